//! `--model` and the model's settings on the command line, generated from the families'
//! settings tables: every family's flags are accepted, a flag of another family than the
//! chosen one is refused naming the family it belongs to, and `--model X --help` lists
//! exactly X's flags with their help and defaults.

use clap::{Arg, ArgAction, ArgMatches, Command};
use patchwork_core::families::{FamilyKind, Kind, ModelConfig, Setting, Value};

/// The model family and its settings as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct ModelArgs {
    /// `--model`, as typed.
    pub model: Option<String>,
    /// The settings' flags given, in the order of the families' tables, each with its
    /// value (`None` for a switch).
    pub given: Vec<(&'static str, Option<String>)>,
}

/// Every flag of every family, once: a flag several families share (`--size`) is one
/// argument.
fn all_flags() -> Vec<(&'static str, Vec<(FamilyKind, &'static Setting)>)> {
    let mut flags: Vec<(&'static str, Vec<(FamilyKind, &'static Setting)>)> = vec![];
    for &kind in FamilyKind::ALL {
        for setting in kind.default_config(1).settings() {
            match flags.iter_mut().find(|(flag, _)| *flag == setting.flag) {
                Some((_, owners)) => owners.push((kind, setting)),
                None => flags.push((setting.flag, vec![(kind, setting)])),
            }
        }
    }
    flags
}

/// The family named by `--model` on this process's command line, for help that shows
/// only its flags (clap builds the help before it parses).
fn family_on_command_line() -> Option<FamilyKind> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().enumerate().find_map(|(i, a)| match a.strip_prefix("--model") {
        Some("") => args.get(i + 1)?.parse().ok(),
        Some(rest) => rest.strip_prefix('=')?.parse().ok(),
        None => None,
    })
}

/// A setting's default as its help shows it; `None` where the data decides.
fn default_text(kind: FamilyKind, setting: &Setting) -> Option<String> {
    if !setting.in_form {
        return None;
    }
    Some(match kind.default_config(1).get(setting.name)? {
        Value::Switch(on) => (if on { "on" } else { "off" }).to_string(),
        Value::Unset => "derived".to_string(),
        value => setting.show(value)?,
    })
}

fn help_text(kind: FamilyKind, setting: &Setting, named: bool) -> String {
    let who = if named { format!("{kind}: ") } else { String::new() };
    let mut help = format!("{who}{}", setting.help.replace('\n', "; "));
    if let Some(default) = default_text(kind, setting) {
        let action = match (setting.kind, default.as_str()) {
            (Kind::Switch, "on") => " (given: off)",
            (Kind::Switch, _) => " (given: on)",
            _ => "",
        };
        help.push_str(&format!(" [default: {default}]{action}"));
    }
    help
}

impl clap::Args for ModelArgs {
    fn augment_args(cmd: Command) -> Command {
        let focus = family_on_command_line();
        let first = FamilyKind::ALL[0];
        let model = Arg::new("model")
            .long("model")
            .value_name("FAMILY")
            .help(format!("Model family: {} (default: that of --config or --init, else {first}); `--model FAMILY --help` lists its settings", FamilyKind::names()));
        let mut cmd = cmd.arg(model);
        for (flag, owners) in all_flags() {
            let mine = focus.and_then(|k| owners.iter().find(|(owner, _)| *owner == k));
            let (kind, setting) = *mine.unwrap_or(&owners[0]);
            let help = match (focus, owners.len()) {
                (Some(_), _) | (None, 1) => help_text(kind, setting, false),
                (None, _) => owners.iter().map(|(k, s)| help_text(*k, s, true)).collect::<Vec<_>>().join("\n"),
            };
            let heading = match (focus, owners.len()) {
                (Some(k), _) => format!("{k} settings"),
                (None, 1) => format!("{kind} settings"),
                (None, _) => "Settings of several families".to_string(),
            };
            let mut arg = Arg::new(flag).long(flag).help(help).help_heading(heading).hide(focus.is_some() && mine.is_none());
            arg = match setting.kind {
                Kind::Switch => arg.action(ArgAction::SetTrue),
                Kind::Choice(names) => arg.value_name(names.join("|")),
                Kind::Classes => arg.value_name("CLASSES"),
                _ => arg.value_name(setting.name.to_uppercase()),
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for ModelArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = ModelArgs { model: matches.get_one::<String>("model").cloned(), given: vec![] };
        for (flag, owners) in all_flags() {
            if owners[0].1.kind == Kind::Switch {
                if matches.get_flag(flag) {
                    args.given.push((flag, None));
                }
            } else if let Some(value) = matches.get_one::<String>(flag) {
                args.given.push((flag, Some(value.clone())));
            }
        }
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl ModelArgs {
    pub fn is_given(&self, flag: &str) -> bool {
        self.given.iter().any(|(f, _)| *f == flag)
    }

    /// The model family the flags ask for: `--model`, else the base config's, else the
    /// registry's first. A `--model` that contradicts the base config is refused rather
    /// than silently replacing it.
    pub fn family(&self, base: Option<&ModelConfig>) -> anyhow::Result<FamilyKind> {
        let Some(asked) = &self.model else {
            return Ok(base.map_or(FamilyKind::ALL[0], ModelConfig::kind));
        };
        let asked: FamilyKind = asked.parse().map_err(|e| anyhow::anyhow!("--model {asked}: {e}"))?;
        match base {
            Some(b) if b.kind() != asked => anyhow::bail!("--model {asked}: the config it starts from (--config or --init) holds a {} model", b.kind()),
            _ => Ok(asked),
        }
    }

    /// The family's flags, for messages.
    fn flags_of(kind: FamilyKind) -> String {
        kind.default_config(1).settings().iter().map(|s| format!("--{}", s.flag)).collect::<Vec<_>>().join(", ")
    }

    /// Refuses the given flags that `kind` does not take, naming the families they belong to.
    fn refuse_foreign(&self, kind: FamilyKind, table: &[Setting]) -> anyhow::Result<()> {
        for (flag, _) in &self.given {
            if table.iter().any(|s| s.flag == *flag) {
                continue;
            }
            let owners: Vec<String> = all_flags().into_iter().find(|(f, _)| f == flag).map(|(_, o)| o.iter().map(|(k, _)| k.to_string()).collect()).unwrap_or_default();
            anyhow::bail!("--{flag} is a setting of {}, not of {kind}; {kind} takes {}", owners.join(" and "), Self::flags_of(kind));
        }
        Ok(())
    }

    /// Builds a model config from the flags, on top of `base` when given, else on the
    /// family's default for data of `data_channels` channels.
    pub fn model_config(&self, data_channels: usize, base: Option<ModelConfig>) -> anyhow::Result<ModelConfig> {
        let kind = self.family(base.as_ref())?;
        let defaults = kind.default_config(data_channels);
        let mut config = base.unwrap_or_else(|| defaults.clone());
        let table = config.settings();
        self.refuse_foreign(kind, table)?;
        // In the table's order: a setting another depends on comes first (--arch before --size).
        for setting in table {
            let Some((_, text)) = self.given.iter().find(|(f, _)| *f == setting.flag) else { continue };
            let value = match (setting.kind, text) {
                (Kind::Switch, _) => match defaults.get(setting.name) {
                    Some(Value::Switch(default)) => Value::Switch(!default),
                    _ => Value::Switch(true),
                },
                (_, Some(text)) => setting.parse(text).map_err(|e| anyhow::anyhow!("{e}"))?,
                (_, None) => anyhow::bail!("--{} needs a value", setting.flag),
            };
            config.set(setting.name, value).map_err(|e| anyhow::anyhow!("--{}: {e}", setting.flag))?;
        }
        config.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(config)
    }

    /// The live settings given, for a resumed run, as (name, flag, value); any other model
    /// flag is refused, since a resumed run keeps its checkpoint's settings.
    pub fn live_overrides(&self, config: &ModelConfig) -> anyhow::Result<Vec<(&'static str, &'static str, f64)>> {
        let table = config.settings();
        self.refuse_foreign(config.kind(), table)?;
        let mut overrides = vec![];
        let mut fixed = vec![];
        for (flag, text) in &self.given {
            let Some(setting) = table.iter().find(|s| s.flag == *flag) else { continue };
            match (setting.is_live(), text) {
                (true, Some(text)) => {
                    let value = setting.parse(text).map_err(|e| anyhow::anyhow!("{e}"))?.as_number().ok_or_else(|| anyhow::anyhow!("--{flag} {text}: not a number"))?;
                    overrides.push((setting.name, setting.flag, value));
                }
                _ => fixed.push(format!("--{flag}")),
            }
        }
        if !fixed.is_empty() {
            anyhow::bail!("{}: a resumed run keeps its checkpoint's settings; only {} may change", fixed.join(", "), Self::resumable_flags(config));
        }
        Ok(overrides)
    }

    /// The flags a resumed run of `config` takes.
    pub fn resumable_flags(config: &ModelConfig) -> String {
        let live: Vec<String> = config.settings().iter().filter(|s| s.is_live()).map(|s| format!("--{}", s.flag)).collect();
        format!("--epochs, --max-steps, --minutes, --lr{}", live.iter().map(|f| format!(", {f}")).collect::<String>())
    }
}
