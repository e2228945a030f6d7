//! The `patchwork` binary as a user runs it: train, then eval recon, then bench, on cpu.

use std::process::Command;

fn patchwork() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_patchwork"));
    c.env("RUST_BACKTRACE", "0");
    c
}

#[test]
fn train_then_eval_then_bench_on_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let status = patchwork()
        .args(["train", "--model", "beta-vae", "--arch", "mlp", "--data", "mnist", "--epochs", "1", "--max-steps", "20", "--batch", "32", "--device", "cpu", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 20);
    // A run folder is taken for its checkpoint (it used to fail with "config.json missing").
    let eval = patchwork().args(["eval", "recon", "--limit", "100", "--device", "cpu", "--json", "--checkpoint"]).arg(&out).output().unwrap();
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(report["images"], 100);
    let psnr = report["psnr"].as_f64().unwrap();
    assert!(psnr > 5.0 && psnr < 40.0, "{psnr}");
    let bench = patchwork()
        .args(["bench", "--model", "beta-vae", "--arch", "mlp", "--size", "28", "--batch", "16", "--runs", "2", "--steps", "2", "--warmup", "1", "--device", "cpu", "--json"])
        .output()
        .unwrap();
    assert!(bench.status.success(), "{}", String::from_utf8_lossy(&bench.stderr));
    let report: serde_json::Value = serde_json::from_slice(&bench.stdout).unwrap();
    assert!(report["train_images_per_sec"].as_f64().unwrap() > 0.0);
    // Resuming keeps the checkpoint's settings but takes a new learning rate (as the
    // divergence message advises), and refuses what would change the checkpoint.
    let refused = patchwork().args(["train", "--device", "cpu", "--batch", "8", "--resume"]).arg(out.join("checkpoint")).output().unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("--batch") && err.contains("keeps its checkpoint's settings"), "{err}");
    // A fresh run into a folder that holds one is refused: its checkpoint would be lost.
    let again = patchwork().args(["train", "--model", "beta-vae", "--arch", "mlp", "--data", "mnist", "--max-steps", "2", "--device", "cpu", "--out"]).arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && err.contains("already holds a run"), "{err}");
    // A row logged after the last checkpoint (as by a run killed before saving) is set
    // aside when the run resumes, so the log holds each step once.
    let unsaved = metrics.lines().last().unwrap().replace("\"step\":20,", "\"step\":21,");
    std::fs::write(out.join("metrics.jsonl"), format!("{metrics}{unsaved}\n")).unwrap();
    let resumed = patchwork()
        .args(["train", "--device", "cpu", "--lr", "0.0001", "--max-steps", "25", "--out"])
        .arg(&out)
        .arg("--resume")
        .arg(out.join("checkpoint"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success() && err.contains("lr set to 0.0001"), "{err}");
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint/config.json")).unwrap()).unwrap();
    assert_eq!((config["lr"].as_f64(), config["batch_size"].as_u64()), (Some(0.0001), Some(32)));
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    assert_eq!((metrics.lines().count(), last["step"].as_u64(), last["lr"].as_f64()), (25, Some(25), Some(0.0001)));
    assert_eq!(std::fs::read_to_string(out.join("metrics.discarded.jsonl")).unwrap(), format!("{unsaved}\n"));
    // Resumed with no limits of its own, a run keeps its checkpoint's: this one is done.
    let done = patchwork().args(["train", "--device", "cpu", "--out"]).arg(&out).arg("--resume").arg(out.join("checkpoint")).output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success() && err.contains("finished at step 25"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("metrics.jsonl")).unwrap(), metrics);
    let rows: Vec<serde_json::Value> = metrics.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (steps, elapsed): (Vec<u64>, Vec<f64>) = rows.iter().map(|r| (r["step"].as_u64().unwrap(), r["elapsed"].as_f64().unwrap())).unzip();
    assert_eq!(steps, (1..=25).collect::<Vec<_>>());
    assert!(elapsed.windows(2).all(|w| w[1] >= w[0]), "training time goes on across the resume: {elapsed:?}");
    // --init starts a new run from those weights with the checkpoint's settings, changed by
    // flags: step 1 already reconstructs like the run it came from.
    let tuned = dir.path().join("tuned");
    let init = patchwork().args(["train", "--device", "cpu", "--batch", "16", "--max-steps", "3", "--out"]).arg(&tuned).arg("--init").arg(out.join("checkpoint")).output().unwrap();
    let err = String::from_utf8_lossy(&init.stderr);
    assert!(init.status.success() && err.contains("finished at step 3"), "{err}");
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(tuned.join("checkpoint/config.json")).unwrap()).unwrap();
    assert_eq!((config["batch_size"].as_u64(), config["model"]["kind"].as_str(), config["model"]["arch"].as_str()), (Some(16), Some("beta-vae"), Some("mlp")), "{config}");
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(tuned.join("checkpoint/state.json")).unwrap()).unwrap();
    assert!(state["initialized_from"].as_str().is_some_and(|s| s.ends_with("checkpoint (step 25)")), "{state}");
    let loss = |text: &str| -> f64 {
        let row: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        row["losses"].as_array().unwrap().iter().find(|t| t[0] == "loss").unwrap()[1].as_f64().unwrap()
    };
    let (fresh_first, tuned_first) = (loss(&metrics), loss(&std::fs::read_to_string(tuned.join("metrics.jsonl")).unwrap()));
    assert!(tuned_first < 0.8 * fresh_first, "step 1 from trained weights {tuned_first} vs from random ones {fresh_first}");
    // Weights of another shape, or of another family, are refused with the reason.
    let misfit = patchwork().args(["train", "--device", "cpu", "--latent", "3", "--out"]).arg(dir.path().join("misfit")).arg("--init").arg(out.join("checkpoint")).output().unwrap();
    let err = String::from_utf8_lossy(&misfit.stderr);
    assert!(!misfit.status.success() && err.contains("cannot start from these weights") && err.contains("other shapes"), "{err}");
    let family = patchwork().args(["train", "--device", "cpu", "--model", "patchvae", "--init"]).arg(out.join("checkpoint")).output().unwrap();
    let err = String::from_utf8_lossy(&family.stderr);
    assert!(!family.status.success() && err.contains("holds a beta-vae model"), "{err}");
    // --minutes ends a run that would go on for long, and it is saved as at any other end.
    let timed = dir.path().join("timed");
    let run = patchwork()
        .args(["train", "--model", "beta-vae", "--arch", "mlp", "--data", "mnist", "--epochs", "1000", "--batch", "32", "--device", "cpu", "--minutes", "0.03", "--out"])
        .arg(&timed)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success() && err.contains("time limit of 0.03 minutes reached"), "{err}");
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(timed.join("checkpoint/state.json")).unwrap()).unwrap();
    let steps = state["step"].as_u64().unwrap();
    assert!((1..1000 * 312).contains(&steps), "{steps}");
}

#[test]
fn patchvae_trains_then_probe_recon_and_bench_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("parts");
    let train = patchwork()
        .args(["train", "--model", "patchvae", "--parts", "4", "--part-dim", "3", "--gan", "--weighted", "--data", "fashion-mnist"])
        .args(["--epochs", "1", "--max-steps", "4", "--batch", "16", "--device", "cpu", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(train.status.success(), "{}", String::from_utf8_lossy(&train.stderr));
    let first: serde_json::Value = serde_json::from_str(std::fs::read_to_string(out.join("metrics.jsonl")).unwrap().lines().next().unwrap()).unwrap();
    let names: Vec<&str> = ["losses", "schedules"].iter().flat_map(|f| first[f].as_array().unwrap()).map(|t| t[0].as_str().unwrap()).collect();
    for term in ["recon", "kl_occ", "kl_app", "gan_g", "gan_d", "temperature"] {
        assert!(names.contains(&term), "{term} not in {names:?}");
    }
    let probe = patchwork()
        .args(["eval", "probe", "--regime", "conv1-3", "--epochs", "1", "--train-limit", "64", "--test-limit", "32", "--device", "cpu", "--json", "--checkpoint"])
        .arg(out.join("checkpoint"))
        .output()
        .unwrap();
    assert!(probe.status.success(), "{}", String::from_utf8_lossy(&probe.stderr));
    let report: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!((report["regime"].as_str(), report["test_images"].as_u64()), (Some("conv1-3"), Some(32)));
    let recon = patchwork().args(["eval", "recon", "--limit", "32", "--device", "cpu", "--checkpoint"]).arg(out.join("checkpoint")).output().unwrap();
    assert!(recon.status.success() && String::from_utf8_lossy(&recon.stdout).contains("PSNR"));
    let bench = patchwork()
        .args(["bench", "--model", "patchvae", "--parts", "4", "--size", "32", "--batch", "8", "--runs", "1", "--steps", "1", "--warmup", "1", "--device", "cpu", "--json"])
        .output()
        .unwrap();
    assert!(bench.status.success(), "{}", String::from_utf8_lossy(&bench.stderr));
    // A β-VAE setting on a PatchVAE (and the reverse) is refused, naming the flags.
    let wrong = patchwork().args(["train", "--model", "patchvae", "--latent", "3", "--device", "cpu"]).output().unwrap();
    assert!(!wrong.status.success() && String::from_utf8_lossy(&wrong.stderr).contains("--latent is a setting of beta-vae"));
    let wrong = patchwork().args(["train", "--model", "beta-vae", "--parts", "3", "--device", "cpu"]).output().unwrap();
    assert!(!wrong.status.success() && String::from_utf8_lossy(&wrong.stderr).contains("--parts is a setting of patchvae"));
}

#[test]
fn the_shipped_patchvaes_parts_and_swaps_are_measured_and_a_model_without_parts_is_refused() {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints");
    let parts = patchwork().args(["eval", "parts", "--device", "cpu", "--json", "--checkpoint"]).arg(shipped.join("patchvae-fashion-mnist")).output().unwrap();
    assert!(parts.status.success(), "{}", String::from_utf8_lossy(&parts.stderr));
    let report: serde_json::Value = serde_json::from_slice(&parts.stdout).unwrap();
    let figures = report["parts"].as_array().unwrap();
    assert_eq!((figures.len(), report["images"].as_u64(), report["grid"].as_u64()), (16, Some(2000), Some(4)));
    // The dead ones are those the browser calls dead: firing at < 0.1 % of locations.
    let dead: Vec<u64> = report["dead"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect();
    assert!(dead.len() <= 2, "the shipped model's parts are alive: {dead:?}");
    for p in figures {
        let rate = p["firing_rate"].as_f64().unwrap();
        assert_eq!(p["dead"].as_bool().unwrap(), rate < 1e-3, "{p}");
        assert!((0.0..=1.0).contains(&p["area_when_firing"].as_f64().unwrap()) && (0.0..=1.0).contains(&p["uncertain_rate"].as_f64().unwrap()), "{p}");
    }
    assert_eq!(report["temperature"].as_f64(), Some(0.1), "trained through the temperature schedule");
    let swap = patchwork()
        .args(["eval", "swap", "--swaps", "40", "--judge-epochs", "1", "--train-limit", "2000", "--device", "cpu", "--json", "--checkpoint"])
        .arg(shipped.join("patchvae-fashion-mnist"))
        .output()
        .unwrap();
    assert!(swap.status.success(), "{}", String::from_utf8_lossy(&swap.stderr));
    let report: serde_json::Value = serde_json::from_slice(&swap.stdout).unwrap();
    assert_eq!(report["swaps"].as_u64(), Some(40));
    let (inside, region) = (report["inside_share"].as_f64().unwrap(), report["region_share"].as_f64().unwrap());
    assert!((0.0..=1.0).contains(&inside) && region > 0.0 && region <= 1.0, "{report}");
    assert!(report["judge_accuracy"].as_f64().unwrap() > 50.0, "a judge of 10 classes well above chance: {report}");
    // Output into a pipe whose reader has gone (`| head -1` after its line) ends quietly:
    // it was a panic ("failed printing to stdout").
    let mut piped = patchwork().args(["eval", "parts", "--device", "cpu", "--checkpoint"]).arg(shipped.join("patchvae-fashion-mnist")).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    drop(piped.stdout.take());
    let ended = piped.wait_with_output().unwrap();
    assert!(ended.status.success() && !String::from_utf8_lossy(&ended.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&ended.stderr));
    let refused = patchwork().args(["eval", "parts", "--device", "cpu", "--checkpoint"]).arg(shipped.join("cycle-vae-mnist")).output().unwrap();
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("has no parts"), "{}", String::from_utf8_lossy(&refused.stderr));
}

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("cfg.json");
    std::fs::write(&bad, "{\"model\": 3}").unwrap();
    let out = patchwork().args(["train", "--device", "cpu", "--config"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cfg.json") && err.contains("invalid config"), "{err}");
    let out = patchwork().args(["eval", "recon", "--device", "cpu", "--checkpoint"]).arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("missing"), "{err}");
    let out = patchwork().args(["train", "--device", "cpu", "--data", "folder:/nonexistent", "--out"]).arg(dir.path().join("r")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("/nonexistent"), "{err}");
    // An unreadable image in a folder is skipped, and said so, naming it.
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for i in 0..4u8 {
        image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, i * 60])).save(photos.join(format!("{i}.png"))).unwrap();
    }
    std::fs::write(photos.join("broken.jpg"), b"not a jpeg").unwrap();
    let out = patchwork()
        .args(["train", "--device", "cpu", "--arch", "mlp", "--size", "28", "--batch", "2", "--max-steps", "1", "--data"])
        .arg(format!("folder:{}", photos.display()))
        .arg("--out")
        .arg(dir.path().join("photo-run"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 unreadable file(s) in the data skipped") && err.contains("broken.jpg"), "{err}");
    // Learning-rate schedules: a bad name and a minimum without a cosine are refused; a
    // cosine run anneals and saves its schedule.
    for (flags, expected) in [(vec!["--lr-schedule", "linear"], "expected constant, cosine or step"), (vec!["--lr-min", "1e-5"], "--lr-min goes with --lr-schedule cosine")] {
        let out = patchwork().args(["train", "--device", "cpu", "--max-steps", "1"]).args(flags).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{err}");
    }
    let cosine_run = dir.path().join("cosine-run");
    let out = patchwork()
        .args(["train", "--device", "cpu", "--arch", "mlp", "--size", "28", "--batch", "16", "--max-steps", "6", "--lr-schedule", "cosine", "--lr-min", "1e-5", "--out"])
        .arg(&cosine_run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(cosine_run.join("checkpoint/config.json")).unwrap()).unwrap();
    assert_eq!(config["lr_schedule"]["cosine"]["lr_min"], 1e-5);
    let rates: Vec<f64> = std::fs::read_to_string(cosine_run.join("metrics.jsonl")).unwrap().lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["lr"].as_f64().unwrap()).collect();
    assert!(rates.len() == 6 && rates[0] == 1e-3 && rates.windows(2).all(|w| w[1] < w[0]), "{rates:?}");
}

#[test]
fn model_flags_come_from_each_familys_settings_and_other_families_flags_are_refused() {
    let text = |out: &std::process::Output| format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // A flag of another family is refused, naming the family it belongs to (it used to be
    // accepted and ignored).
    for (model, flag, value, owner) in [("beta-vae", "--tau", "0.3", "mixing-scenes"), ("beta-vae", "--parts", "4", "patchvae"), ("patchvae", "--arch", "mlp", "beta-vae"), ("mixing-scenes", "--beta-occ", "1", "patchvae")] {
        let out = patchwork().args(["train", "--device", "cpu", "--max-steps", "1", "--model", model, flag, value]).output().unwrap();
        let err = text(&out);
        assert!(!out.status.success() && err.contains(&format!("{flag} is a setting of {owner}, not of {model}")), "{err}");
    }
    // `--model X --help` lists exactly X's flags, with help and defaults.
    let out = patchwork().args(["train", "--model", "patchvae", "--help"]).output().unwrap();
    let help = text(&out);
    assert!(out.status.success(), "{help}");
    for flag in ["--parts", "--part-dim", "--beta-occ", "--beta-app", "--prior", "--sampling", "--temperature-schedule", "--gan", "--weighted", "patchvae settings", "[default: 16]", "official code 10"] {
        assert!(help.contains(flag), "{flag} missing from: {help}");
    }
    for flag in ["--tau", "--arch", "--latent", "--preset", "--no-rec"] {
        assert!(!help.contains(flag), "{flag} shown for patchvae: {help}");
    }
    // Without --model, every family's flags, under their family's heading.
    let help = text(&patchwork().args(["train", "--help"]).output().unwrap());
    for flag in ["--tau", "--arch", "--parts", "--no-rec", "beta-vae settings", "mixing-scenes settings"] {
        assert!(help.contains(flag), "{flag} missing from: {help}");
    }
    // A bad value is refused with what the setting takes.
    let err = text(&patchwork().args(["train", "--device", "cpu", "--model", "patchvae", "--sampling", "soft"]).output().unwrap());
    assert!(err.contains("--sampling soft: expected bernoulli, categorical or hard"), "{err}");
}

#[test]
fn a_reference_vae_trains_on_two_pools_then_eval_factors_bench_and_preview_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("srb");
    let small = ["--size", "32", "--width", "4", "--e-dim", "4", "--z-dim", "4"];
    let trained = patchwork().args(["train", "--model", "reference-vae", "--max-steps", "4", "--batch", "8", "--device", "cpu", "--out"]).arg(&out).args(small).output().unwrap();
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    // The paper's Adam betas and its data by default.
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint/config.json")).unwrap()).unwrap();
    assert_eq!((config["adam_beta1"].as_f64(), config["adam_beta2"].as_f64(), config["data"].as_str()), (Some(0.5), Some(0.99), Some("reference-style")));
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    for term in ["adversarial", "recon_unlabelled", "recon_reference", "latent_unlabelled", "latent_reference", "discriminators", "d_accuracy", "d_reference_accuracy", "e_effect"] {
        assert!(metrics.contains(&format!("\"{term}\"")), "{term} logged");
    }
    for (features, dims) in [("e", 4), ("z", 4), ("all", 8)] {
        let eval = patchwork().args(["eval", "factors", "--limit", "200", "--device", "cpu", "--json", "--features", features, "--checkpoint"]).arg(&out).output().unwrap();
        assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
        let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
        assert_eq!((report["dims"].as_u64(), report["fit_images"].as_u64(), report["test_images"].as_u64()), (Some(dims), Some(100), Some(100)));
        let names: Vec<&str> = report["factors"].as_array().unwrap().iter().map(|f| f["factor"].as_str().unwrap()).collect();
        assert_eq!(names, ["red", "green", "blue", "scale", "width"]);
        assert!(report["average"].as_f64().unwrap() < 0.5);
    }
    // Data without factors is refused by name.
    let refused = patchwork().args(["eval", "factors", "--data", "mnist", "--device", "cpu", "--checkpoint"]).arg(&out).output().unwrap();
    assert!(String::from_utf8_lossy(&refused.stderr).contains("mnist: its images have no ground-truth factors"));
    // One pool alone is refused, with what to use instead.
    let one_pool = patchwork().args(["train", "--model", "reference-vae", "--data", "mnist", "--max-steps", "1", "--device", "cpu", "--out"]).arg(dir.path().join("one")).args(small).output().unwrap();
    let err = String::from_utf8_lossy(&one_pool.stderr);
    assert!(!one_pool.status.success() && err.contains("trains on two pools") && err.contains("pools:REFERENCE|UNLABELLED"), "{err}");
    // An empty folder as a pool gets a clear error naming it.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let pools = format!("pools:folder:{}|mnist", empty.display());
    let no_pool = patchwork().args(["train", "--model", "reference-vae", "--data", &pools, "--max-steps", "1", "--device", "cpu", "--out"]).arg(dir.path().join("empty-run")).args(small).output().unwrap();
    let err = String::from_utf8_lossy(&no_pool.stderr);
    assert!(!no_pool.status.success() && err.contains(&empty.display().to_string()), "{err}");
    let bench = patchwork().args(["bench", "--model", "reference-vae", "--batch", "4", "--runs", "1", "--steps", "1", "--warmup", "1", "--device", "cpu", "--json"]).args(small).output().unwrap();
    assert!(bench.status.success(), "{}", String::from_utf8_lossy(&bench.stderr));
    let preview = dir.path().join("steps.png");
    let shown = patchwork().args(["preview", "--data", "reference-style", "--count", "3", "--out"]).arg(&preview).output().unwrap();
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let png = image::open(&preview).unwrap();
    assert_eq!((png.width(), png.height()), (3 * 64 + 2, 4 * 64 + 3), "three digits, four steps each");
}

#[test]
fn a_cycle_vae_with_held_out_classes_is_probed_on_them_drawn_as_a_swap_grid_and_sampled_as_labelled_folders() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("few-shot");
    let trained = patchwork().args(["train", "--model", "cycle-vae", "--data", "mnist", "--holdout-classes", "7,8,9", "--holdout-examples", "1", "--max-steps", "4", "--batch", "16", "--device", "cpu", "--out"]).arg(&out).output().unwrap();
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint/config.json")).unwrap()).unwrap();
    assert_eq!(config["lr_schedule"]["step"]["every_epochs"], 80, "the code's StepLR by default");
    // The probe's report has the held-out classes' own test accuracy.
    let eval = patchwork().args(["eval", "disentangle", "--train-limit", "300", "--test-limit", "300", "--epochs", "2", "--device", "cpu", "--json", "--checkpoint"]).arg(&out).output().unwrap();
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let held_out = &report["held_out"];
    assert_eq!(held_out["classes"], serde_json::json!([7, 8, 9]));
    assert!(held_out["test_images"].as_u64().unwrap() > 0 && held_out["specified_test"].as_f64().is_some(), "{report}");
    // The swap grid: s of two test digits of each held-out class along the top, z of five others down the left.
    let png = dir.path().join("grid.png");
    let drawn = patchwork().args(["swap-grid", "--columns-from", "7,8,9", "--rows", "5", "--device", "cpu", "--checkpoint"]).arg(&out).arg("--out").arg(&png).output().unwrap();
    assert!(drawn.status.success(), "{}", String::from_utf8_lossy(&drawn.stderr));
    let grid = image::open(&png).unwrap();
    assert_eq!((grid.width(), grid.height()), (7 * 28 + 6, 6 * 28 + 5), "a header column and six s columns, a header row and five z rows");
    let refused = patchwork().args(["swap-grid", "--columns-from", "7,eight", "--device", "cpu", "--checkpoint"]).arg(&out).arg("--out").arg(&png).output().unwrap();
    assert!(String::from_utf8_lossy(&refused.stderr).contains("expected class numbers"));
    // New labelled images, as folders that open as data with their classes; a second
    // export into the same folder is refused rather than mixed in.
    let labelled = dir.path().join("labelled");
    let sampled = patchwork().args(["sample-classes", "--per-class", "3", "--device", "cpu", "--checkpoint"]).arg(&out).arg("--out").arg(&labelled).output().unwrap();
    assert!(sampled.status.success(), "{}", String::from_utf8_lossy(&sampled.stderr));
    let files: Vec<_> = std::fs::read_dir(labelled.join("7")).unwrap().collect();
    assert_eq!(files.len(), 3);
    let again = patchwork().args(["sample-classes", "--per-class", "3", "--device", "cpu", "--checkpoint"]).arg(&out).arg("--out").arg(&labelled).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("not empty"));
    let retrained = patchwork().args(["train", "--model", "cycle-vae", "--max-steps", "1", "--batch", "8", "--device", "cpu", "--data"]).arg(format!("folder:{}", labelled.display())).arg("--out").arg(dir.path().join("on-labelled")).output().unwrap();
    assert!(retrained.status.success(), "the export trains a cycle VAE: {}", String::from_utf8_lossy(&retrained.stderr));
    // A model without the split is refused by name.
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/patchvae-fashion-mnist");
    let no_split = patchwork().args(["swap-grid", "--device", "cpu", "--checkpoint"]).arg(&shipped).arg("--out").arg(&png).output().unwrap();
    assert!(String::from_utf8_lossy(&no_split.stderr).contains("has no class/style split"));
}

#[test]
fn devices_names_the_backends_and_the_kernel_cache_which_a_gpu_run_fills_wherever_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("kernels");
    let devices = patchwork().arg("devices").env("PATCHWORK_KERNEL_CACHE", &cache).output().unwrap();
    let out = String::from_utf8_lossy(&devices.stdout);
    assert!(devices.status.success(), "{}", String::from_utf8_lossy(&devices.stderr));
    assert!(out.contains("backend: wgpu with WGSL kernels on every API") && out.contains("backend: flex"), "{out}");
    assert!(out.contains(&format!("kernel cache: {} (empty", cache.display())), "{out}");
    assert!(out.contains("cuda: this build has no CUDA backend"), "{out}");
    // Asking for CUDA says why there is none and what to use instead.
    let cuda = patchwork().args(["train", "--device", "cuda"]).output().unwrap();
    let err = String::from_utf8_lossy(&cuda.stderr);
    assert!(!cuda.status.success() && err.contains("no CUDA backend") && err.contains("--device gpu"), "{err}");
    if std::env::var_os("PATCHWORK_SKIP_WGPU").is_some() {
        return;
    }
    // Started from inside a Cargo workspace, where cubecl would have kept its caches in
    // `target/environment`: they go to the kernel cache (autotune results, on lavapipe's
    // WGSL), the first run's cold, the second's warm; --cold-cache starts cold again.
    let workspace = dir.path().join("a-workspace");
    std::fs::create_dir(&workspace).unwrap();
    std::fs::write(workspace.join("Cargo.toml"), "[workspace]\n").unwrap();
    let bench = |extra: &[&str]| {
        let out = patchwork()
            .args(["bench", "--model", "beta-vae", "--arch", "mlp", "--size", "28", "--batch", "4", "--runs", "1", "--steps", "1", "--warmup", "1", "--device", "gpu", "--json"])
            .args(extra)
            .env("PATCHWORK_KERNEL_CACHE", &cache)
            .current_dir(&workspace)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = bench(&[]);
    assert_eq!(first["kernel_cache_bytes_before"], 0, "{first}");
    assert!(first["first_step_seconds"].as_f64().unwrap() > 0.0, "{first}");
    let second = bench(&[]);
    assert!(second["kernel_cache_bytes_before"].as_u64().unwrap() > 0, "{second}");
    assert_eq!(bench(&["--cold-cache"])["kernel_cache_bytes_before"], 0);
    assert!(!workspace.join("target").exists(), "cubecl wrote into the working directory's workspace");
}
