//! Curves as an SVG file (W&B users ask for vector plots beside PNG, wandb#1446): the same
//! series the Train and Runs views draw, with their smoothing, bands and axes, for a paper
//! or a slide. egui_plot draws to the screen only, so the file is written here.

use std::fmt::Write as _;

/// One curve of a plot, and the band of raw values under it, if any.
pub struct SvgSeries {
    pub name: String,
    pub colour: egui::Color32,
    pub points: Vec<[f64; 2]>,
    /// (x, low, high) per point, drawn as a pale area in the curve's colour.
    pub band: Option<(Vec<f64>, Vec<f64>, Vec<f64>)>,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 420.0;
/// The plotting area's margins: left (y ticks), right, top (title), bottom (x ticks).
const MARGIN: [f64; 4] = [72.0, 24.0, 36.0, 52.0];

/// How an x value reads on its tick, given the axis' span (clock times, say, as times).
pub type TickLabel<'a> = &'a dyn Fn(f64, f64) -> String;

/// An SVG document of `series` on one pair of axes, x labelled and its ticks written by
/// `x_axis`; points that are not finite are left out (a log axis of 0, a diverged step),
/// as on screen.
pub fn svg_plot(title: &str, x_axis: (&str, TickLabel<'_>), y_label: &str, series: &[SvgSeries]) -> String {
    let (x_label, x_tick) = x_axis;
    let finite = |p: &[f64; 2]| p[0].is_finite() && p[1].is_finite();
    let mut xs = Range::default();
    let mut ys = Range::default();
    for s in series {
        for p in s.points.iter().filter(|p| finite(p)) {
            xs.take(p[0]);
            ys.take(p[1]);
        }
        if let Some((bx, lo, hi)) = &s.band {
            for ((x, l), h) in bx.iter().zip(lo).zip(hi) {
                if x.is_finite() && l.is_finite() && h.is_finite() {
                    xs.take(*x);
                    ys.take(*l);
                    ys.take(*h);
                }
            }
        }
    }
    let (x0, x1) = xs.padded();
    let (y0, y1) = ys.padded();
    let [left, right, top, bottom] = MARGIN;
    let (plot_w, plot_h) = (WIDTH - left - right, HEIGHT - top - bottom);
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * plot_w;
    let sy = |y: f64| top + (1.0 - (y - y0) / (y1 - y0)) * plot_h;

    let mut svg = String::new();
    let _ = writeln!(svg, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#);
    let _ = writeln!(svg, r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#);
    let _ = writeln!(svg, r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#, WIDTH / 2.0, escape(title));
    // Grid lines and tick labels at round values.
    for x in ticks(x0, x1) {
        let _ = writeln!(svg, r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1:.1}" stroke="#e4e4e4"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##, sx(x), top + plot_h, top + plot_h + 16.0, escape(&x_tick(x, x1 - x0)));
    }
    for y in ticks(y0, y1) {
        let _ = writeln!(svg, r##"<line x1="{left}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#e4e4e4"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4}</text>"##, sy(y), left + plot_w, left - 6.0, sy(y) + 4.0, tick_label(y));
    }
    let _ = writeln!(svg, r##"<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>"##);
    let _ = writeln!(svg, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, left + plot_w / 2.0, HEIGHT - 12.0, escape(x_label));
    let _ = writeln!(svg, r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#, top + plot_h / 2.0, escape(y_label));
    for s in series {
        let colour = format!("#{:02x}{:02x}{:02x}", s.colour.r(), s.colour.g(), s.colour.b());
        if let Some((bx, lo, hi)) = &s.band {
            let kept: Vec<(f64, f64, f64)> = bx.iter().zip(lo).zip(hi).map(|((x, l), h)| (*x, *l, *h)).filter(|(x, l, h)| x.is_finite() && l.is_finite() && h.is_finite()).collect();
            let upper = kept.iter().map(|(x, _, h)| format!("{:.1},{:.1}", sx(*x), sy(*h)));
            let lower = kept.iter().rev().map(|(x, l, _)| format!("{:.1},{:.1}", sx(*x), sy(*l)));
            let outline: Vec<String> = upper.chain(lower).collect();
            if !outline.is_empty() {
                let _ = writeln!(svg, r#"<polygon points="{}" fill="{colour}" fill-opacity="0.15" stroke="none"/>"#, outline.join(" "));
            }
        }
        let line: Vec<String> = s.points.iter().filter(|p| finite(p)).map(|p| format!("{:.1},{:.1}", sx(p[0]), sy(p[1]))).collect();
        let _ = writeln!(svg, r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.5"><title>{}</title></polyline>"#, line.join(" "), escape(&s.name));
    }
    // The legend, top right inside the plot.
    for (i, s) in series.iter().enumerate() {
        let y = top + 16.0 + 16.0 * i as f64;
        let x = left + plot_w - 150.0;
        let colour = format!("#{:02x}{:02x}{:02x}", s.colour.r(), s.colour.g(), s.colour.b());
        let _ = writeln!(svg, r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{y:.1}">{}</text>"#, y - 4.0, x + 18.0, y - 4.0, x + 24.0, escape(&s.name));
    }
    svg.push_str("</svg>\n");
    svg
}

/// The smallest and largest value seen.
#[derive(Default)]
struct Range(Option<(f64, f64)>);

impl Range {
    fn take(&mut self, v: f64) {
        self.0 = Some(self.0.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
    }

    /// The range with 3 % room each side; a single value (or none) gets a unit's room.
    fn padded(&self) -> (f64, f64) {
        match self.0 {
            Some((lo, hi)) if hi > lo => {
                let pad = 0.03 * (hi - lo);
                (lo - pad, hi + pad)
            }
            Some((v, _)) => (v - 0.5, v + 0.5),
            None => (0.0, 1.0),
        }
    }
}

/// Round values between `lo` and `hi`, about five of them (1, 2 or 5 times a power of 10).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    if !(raw.is_finite() && raw > 0.0) {
        return vec![];
    }
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        // Enough decimals for the tick, with the trailing zeros cut.
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_series_is_a_polyline_of_its_finite_points_with_its_band_and_legend() {
        let series = vec![
            SvgSeries { name: "loss".into(), colour: egui::Color32::from_rgb(230, 85, 85), points: vec![[0.0, 3.0], [1.0, f64::NAN], [2.0, 1.0], [3.0, 0.5]], band: Some((vec![0.0, 2.0, 3.0], vec![2.5, 0.8, 0.4], vec![3.5, 1.2, 0.6])) },
            SvgSeries { name: "kl <β>".into(), colour: egui::Color32::from_rgb(0, 128, 255), points: vec![[0.0, 0.1], [3.0, 0.2]], band: None },
        ];
        let svg = svg_plot("losses", ("step", &|x, _| tick_label(x)), "value", &series);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.trim_end().ends_with("</svg>"));
        let polylines: Vec<&str> = svg.lines().filter(|l| l.starts_with("<polyline")).collect();
        assert_eq!(polylines.len(), 2);
        let points = |line: &str| line.split("points=\"").nth(1).and_then(|r| r.split('"').next()).map_or(0, |p| p.split(' ').count());
        assert_eq!((points(polylines[0]), points(polylines[1])), (3, 2), "the NaN is left out");
        assert!(polylines[0].contains("stroke=\"#e65555\"") && polylines[1].contains("stroke=\"#0080ff\""));
        assert_eq!(svg.matches("<polygon").count(), 1, "one band");
        assert!(svg.contains("kl &lt;β&gt;") && !svg.contains("<β>"), "names are escaped");
        // The first point is at the left edge's padding, the lowest value near the bottom.
        let first = polylines[0].split("points=\"").nth(1).unwrap().split(' ').next().unwrap();
        let [x, y]: [f64; 2] = first.split(',').map(|v| v.parse().unwrap()).collect::<Vec<_>>().try_into().unwrap();
        assert!((x - (MARGIN[0] + 0.03 / 1.06 * (WIDTH - MARGIN[0] - MARGIN[1]))).abs() < 0.2, "{x}");
        assert!(y < HEIGHT / 2.0, "3.0 is near the top: {y}");
    }

    #[test]
    fn ticks_are_round_and_an_empty_plot_is_still_a_document() {
        assert_eq!(ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let small = ticks(-0.03, 0.12);
        assert_eq!(small.len(), 3, "{small:?}");
        assert!(small.iter().zip([0.0, 0.05, 0.1]).all(|(t, want)| (t - want).abs() < 1e-12), "{small:?}");
        assert!(ticks(0.12, 0.17).iter().all(|t| (t * 100.0 - (t * 100.0).round()).abs() < 1e-9));
        assert_eq!((tick_label(2.0), tick_label(0.25), tick_label(12_000_000.0)), ("2".to_string(), "0.25".to_string(), "1.2e7".to_string()));
        let empty = svg_plot("nothing yet", ("step", &|x, _| tick_label(x)), "value", &[]);
        assert!(empty.contains("nothing yet") && empty.trim_end().ends_with("</svg>"));
    }
}
