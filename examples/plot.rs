//! Draws `docs/performance.svg` from the CSV written by `examples/compare.rs`.
//!
//! ```text
//! cargo run --release --example compare -- --csv docs/performance.csv
//! cargo run --release --example plot -- docs/performance.csv docs/performance.svg
//! ```
//!
//! Arguments: input CSV (default `target/compare.csv`) and output SVG (default
//! `docs/performance.svg`). Plain Rust, no dependencies: the SVG is written by hand.
//!
//! The chart has three panels:
//! 1. For each scenario's main time metric, every peer's median divided by
//!    tokengate's, on a log scale: bars right of 1 mean tokengate is faster.
//! 2. Light-task latency under heavy load (p50, p99, max) on a log scale.
//! 3. The remaining numbers: parallel efficiency and idle CPU.

use std::fmt::Write as _;

struct Rec {
    scenario: String,
    metric: String,
    unit: String,
    goal: String,
    imp: String,
    median: f64,
    ratio: f64,
    primary: bool,
}

fn parse(text: &str) -> Vec<Rec> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() < 11 {
                return None;
            }
            Some(Rec {
                scenario: f[0].into(),
                metric: f[1].into(),
                unit: f[2].into(),
                goal: f[3].into(),
                imp: f[4].into(),
                median: f[5].parse().unwrap_or(f64::NAN),
                ratio: f[9].parse().unwrap_or(f64::NAN),
                primary: f[10].trim() == "1",
            })
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn fmt_val(x: f64) -> String {
    if x >= 1000.0 {
        format!("{x:.0}")
    } else if x >= 100.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

const W: f64 = 1000.0;
const LABEL_W: f64 = 260.0;
const RIGHT_PAD: f64 = 70.0;
const BAR_H: f64 = 16.0;
const GAP: f64 = 6.0;
const FONT: &str = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";

struct Svg {
    body: String,
    y: f64,
}

impl Svg {
    fn text(&mut self, x: f64, y: f64, size: f64, anchor: &str, extra: &str, s: &str) {
        let _ = writeln!(
            self.body,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"{anchor}\" {FONT} {extra}>{}</text>",
            esc(s)
        );
    }

    /// A panel's bold title with a grey subtitle under it; moves `y` past both.
    fn heading(&mut self, title: &str, subtitle: &str) {
        self.text(20.0, self.y, 16.0, "start", "font-weight=\"bold\"", title);
        self.y += 18.0;
        self.text(20.0, self.y, 12.0, "start", "fill=\"#555\"", subtitle);
        self.y += 14.0;
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, style: &str) {
        let _ = writeln!(
            self.body,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" {style}/>"
        );
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = writeln!(
            self.body,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{fill}\"/>",
            w.max(0.5)
        );
    }
}

/// A log-scale axis from `lo` to `hi` over `[x0, x1]`.
struct LogAxis {
    lo: f64,
    hi: f64,
    x0: f64,
    x1: f64,
}

impl LogAxis {
    fn x(&self, v: f64) -> f64 {
        let v = v.clamp(self.lo, self.hi);
        self.x0 + (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln()) * (self.x1 - self.x0)
    }
}

/// A scenario's heading in the ratio panel, with tokengate's own value.
fn heading(recs: &[Rec], r: &Rec) -> String {
    let base = recs
        .iter()
        .find(|b| b.scenario == r.scenario && b.metric == r.metric && b.imp == "tokengate");
    match base {
        Some(b) => format!(
            "{}: {} (tokengate {} {})",
            r.scenario,
            r.metric,
            fmt_val(b.median),
            r.unit
        ),
        None => format!("{}: {}", r.scenario, r.metric),
    }
}

/// Panel 1: ratio bars.
fn ratio_panel(svg: &mut Svg, recs: &[Rec]) {
    let bars: Vec<&Rec> = recs
        .iter()
        .filter(|r| r.primary && r.goal == "low" && r.imp != "tokengate" && r.imp != "serial")
        .filter(|r| r.ratio.is_finite() && r.ratio > 0.0)
        .collect();
    if bars.is_empty() {
        return;
    }
    let (mut lo, mut hi) = (0.25f64, 4.0f64);
    for r in &bars {
        while r.ratio < lo {
            lo /= 2.0;
        }
        while r.ratio > hi {
            hi *= 2.0;
        }
    }
    // Symmetric around 1, so left and right read the same.
    let span = hi.max(1.0 / lo);
    let axis = LogAxis {
        lo: 1.0 / span,
        hi: span,
        x0: LABEL_W,
        x1: W - RIGHT_PAD,
    };
    svg.heading(
        "Peer time / tokengate time (median; log scale)",
        "right of 1 (green): tokengate faster by that factor; left of 1 (red): the peer is faster",
    );
    let top = svg.y;
    let mut last_scenario = String::new();
    let mut y = top + 8.0;
    for r in &bars {
        if r.scenario != last_scenario {
            if !last_scenario.is_empty() {
                y += GAP;
            }
            svg.text(
                12.0,
                y + BAR_H - 4.0,
                12.0,
                "start",
                "font-weight=\"bold\"",
                &heading(recs, r),
            );
            y += BAR_H + 2.0;
            last_scenario.clone_from(&r.scenario);
        }
        svg.text(
            LABEL_W - 8.0,
            y + BAR_H - 4.0,
            12.0,
            "end",
            "",
            &format!("{} ({} {})", r.imp, fmt_val(r.median), r.unit),
        );
        let (x1, x2) = (axis.x(1.0), axis.x(r.ratio));
        let fill = if r.ratio >= 1.0 { "#3a9a5b" } else { "#c8503c" };
        svg.rect(x1.min(x2), y, (x2 - x1).abs(), BAR_H, fill);
        let (tx, anchor) = if r.ratio >= 1.0 {
            (x2 + 4.0, "start")
        } else {
            (x2 - 4.0, "end")
        };
        svg.text(tx, y + BAR_H - 4.0, 11.0, anchor, "", &format!("{}x", fmt_val(r.ratio)));
        y += BAR_H + 2.0;
    }
    let bottom = y + 4.0;
    // Grid and ticks at powers of two.
    let mut t = axis.lo;
    while t <= axis.hi * 1.0001 {
        let x = axis.x(t);
        let style = if (t - 1.0).abs() < 1e-9 {
            "stroke=\"#222\" stroke-width=\"1.5\""
        } else {
            "stroke=\"#ccc\" stroke-width=\"1\" stroke-dasharray=\"3,3\""
        };
        svg.line(x, top, x, bottom, style);
        let label = if t >= 1.0 {
            format!("{t:.0}x")
        } else {
            format!("1/{:.0}", 1.0 / t)
        };
        svg.text(x, bottom + 14.0, 11.0, "middle", "fill=\"#444\"", &label);
        t *= 2.0;
    }
    svg.y = bottom + 36.0;
}

/// Panel 2: latency under heavy load.
fn latency_panel(svg: &mut Svg, recs: &[Rec]) {
    let lat: Vec<&Rec> = recs
        .iter()
        .filter(|r| r.scenario == "latency" && r.unit == "us" && r.median > 0.0)
        .collect();
    if lat.is_empty() {
        return;
    }
    let mut imps: Vec<&str> = Vec::new();
    for r in &lat {
        if !imps.contains(&r.imp.as_str()) {
            imps.push(&r.imp);
        }
    }
    let mut metrics: Vec<&str> = Vec::new();
    for r in &lat {
        if !metrics.contains(&r.metric.as_str()) {
            metrics.push(&r.metric);
        }
    }
    let (mut lo, mut hi) = (10.0f64, 1000.0f64);
    for r in &lat {
        while r.median < lo {
            lo /= 10.0;
        }
        while r.median > hi {
            hi *= 10.0;
        }
    }
    let axis = LogAxis {
        lo,
        hi,
        x0: LABEL_W,
        x1: W - RIGHT_PAD,
    };
    svg.heading(
        "Light-task latency under heavy load (us, log scale; lower is better)",
        "light tasks at 1 kHz from an outside thread while heavy tasks keep both workers busy; \
         \"tokengate\" = reserve_for_light(1)",
    );
    let colors = ["#8fb8de", "#3d7ab8", "#1d3f66"];
    let top = svg.y;
    let mut y = top + 8.0;
    for imp in &imps {
        svg.text(12.0, y + BAR_H - 4.0, 12.0, "start", "font-weight=\"bold\"", imp);
        y += BAR_H + 2.0;
        for (k, m) in metrics.iter().enumerate() {
            let Some(r) = lat.iter().find(|r| r.imp == *imp && r.metric == *m) else {
                continue;
            };
            svg.text(LABEL_W - 8.0, y + BAR_H - 4.0, 12.0, "end", "", m);
            let x = axis.x(r.median);
            svg.rect(axis.x0, y, x - axis.x0, BAR_H, colors[k % colors.len()]);
            svg.text(
                x + 4.0,
                y + BAR_H - 4.0,
                11.0,
                "start",
                "",
                &format!("{} us", fmt_val(r.median)),
            );
            y += BAR_H + 2.0;
        }
        y += GAP;
    }
    let bottom = y;
    let mut t = axis.lo;
    while t <= axis.hi * 1.0001 {
        let x = axis.x(t);
        svg.line(
            x,
            top,
            x,
            bottom,
            "stroke=\"#ccc\" stroke-width=\"1\" stroke-dasharray=\"3,3\"",
        );
        let label = if t >= 1000.0 {
            format!("{:.0} ms", t / 1000.0)
        } else {
            format!("{t:.0} us")
        };
        svg.text(x, bottom + 14.0, 11.0, "middle", "fill=\"#444\"", &label);
        t *= 10.0;
    }
    svg.y = bottom + 36.0;
}

/// Panel 3: the other numbers as text.
fn notes_panel(svg: &mut Svg, recs: &[Rec]) {
    let lines: Vec<String> = recs
        .iter()
        .filter(|r| (!r.primary && r.scenario != "latency") || r.unit == "tasks/s")
        .map(|r| {
            format!(
                "{:<9} {:<28} {:<28} {:>10} {}",
                r.scenario,
                r.metric,
                r.imp,
                fmt_val(r.median),
                r.unit
            )
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    svg.text(
        20.0,
        svg.y,
        16.0,
        "start",
        "font-weight=\"bold\"",
        "Other metrics (median)",
    );
    svg.y += 20.0;
    for l in lines {
        let _ = writeln!(
            svg.body,
            "<text x=\"24\" y=\"{:.1}\" font-size=\"12\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" xml:space=\"preserve\">{}</text>",
            svg.y,
            esc(&l)
        );
        svg.y += 16.0;
    }
    svg.y += 10.0;
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let input = args.next().unwrap_or_else(|| "target/compare.csv".into());
    let output = args.next().unwrap_or_else(|| "docs/performance.svg".into());
    let text = match std::fs::read_to_string(&input) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {input}: {e}; run `cargo run --release --example compare` first");
            std::process::exit(1);
        }
    };
    let recs = parse(&text);
    let mut svg = Svg {
        body: String::new(),
        y: 34.0,
    };
    svg.text(
        20.0,
        svg.y,
        20.0,
        "start",
        "font-weight=\"bold\"",
        "tokengate vs rayon, tokio, std::thread pools (2 threads each)",
    );
    svg.y += 20.0;
    svg.text(
        20.0,
        svg.y,
        12.0,
        "start",
        "fill=\"#555\"",
        &format!("source: {input} (examples/compare.rs); medians over repeated runs in one process"),
    );
    svg.y += 34.0;
    ratio_panel(&mut svg, &recs);
    latency_panel(&mut svg, &recs);
    notes_panel(&mut svg, &recs);
    let h = svg.y + 10.0;
    let out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {W:.0} {h:.0}\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{}</svg>\n",
        svg.body
    );
    if let Some(dir) = std::path::Path::new(&output).parent() {
        if !dir.as_os_str().is_empty() {
            let _ = std::fs::create_dir_all(dir);
        }
    }
    match std::fs::write(&output, out) {
        Ok(()) => eprintln!("wrote {output} ({} rows from {input})", recs.len()),
        Err(e) => {
            eprintln!("cannot write {output}: {e}");
            std::process::exit(1);
        }
    }
}
