//! The table and the chart of `scripts/adaptive.sh`: reads the `--stats-json` files that the
//! SMS example wrote (one per case, `--adaptive` against the stand-in, or through nginx's
//! `limit_req`, whose access log the script writes in as the stand-in's counts), prints one table
//! (elapsed, ideal, ratio, requests, 429s, the goals' bounds and the verdict, and the AWS
//! SDK's adaptive mode for reference), and draws each case's send rate over time against the
//! server's limit to an SVG.
//!
//! ```text
//! cargo run --example adaptive_chart -- OUT.svg LABEL=RUN.json...
//! ```
//!
//! The bounds were chosen from how each run's stand-in was set: with rate
//! headers (`ietf`, `x`), at most 1.05 x the ideal and at most two 429s; with a rate schedule,
//! at most 1.2 x and 10 % of the requests answered 429; else at most 1.15 x and 10 %. The
//! ideal is the time of the last request at the earliest the stand-in's bucket lets it
//! through (59 s for 60 messages at 1/s, burst 1; 39 s at 2/s for 20 s then 1/s; 54 s at 1/s
//! through nginx's `burst=5 nodelay`, 6 at once).
//!
//! Exits 1 when a run misses its bounds (the table and the chart are written all the same),
//! 2 on bad input.

use std::path::Path;
use std::process::ExitCode;

use serde::Deserialize;

/// What `examples/sms --stats-json` writes (the fields used here).
#[derive(Deserialize)]
struct RunFile {
    count: usize,
    burst: u32,
    rate_headers: String,
    rate_schedule: String,
    learned_rate: Option<f64>,
    elapsed_s: f64,
    ideal_s: f64,
    sent: usize,
    standin: Option<StandinStats>,
}

#[derive(Deserialize)]
struct StandinStats {
    requests: u64,
    throttled: u64,
    delivered: u64,
    duplicates: u64,
    limits: Vec<LimitStep>,
    arrivals: Vec<Arrival>,
}

#[derive(Deserialize)]
struct LimitStep {
    from_s: f64,
    rate: f64,
}

#[derive(Deserialize)]
struct Arrival {
    t_s: f64,
    status: u16,
}

/// The goals' bounds for one kind of run.
struct Bounds {
    ratio: f64,
    /// At most this share of the requests answered 429, or at most this many.
    share: Option<f64>,
    count: Option<u64>,
}

impl Bounds {
    fn for_run(run: &RunFile) -> Bounds {
        if run.rate_headers != "off" {
            Bounds {
                ratio: 1.05,
                share: None,
                count: Some(2),
            }
        } else if !run.rate_schedule.is_empty() {
            Bounds {
                ratio: 1.2,
                share: Some(0.10),
                count: None,
            }
        } else {
            Bounds {
                ratio: 1.15,
                share: Some(0.10),
                count: None,
            }
        }
    }

    fn describe(&self) -> String {
        let refused = match (self.share, self.count) {
            (Some(s), _) => format!("<= {:.0} % 429", s * 100.0),
            (None, Some(c)) => format!("<= {c} 429s"),
            (None, None) => String::new(),
        };
        format!("<= {:.2} x, {refused}", self.ratio)
    }
}

struct Case {
    label: String,
    run: RunFile,
}

impl Case {
    fn stats(&self) -> Result<&StandinStats, String> {
        self.run.standin.as_ref().ok_or_else(|| {
            format!(
                "{}: no stand-in stats (run with the embedded stand-in)",
                self.label
            )
        })
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: adaptive_chart OUT.svg LABEL=RUN.json...";
    let out = args.next().ok_or(usage)?;
    let mut cases = Vec::new();
    for arg in args {
        let (label, path) = arg.split_once('=').ok_or(usage)?;
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let run: RunFile = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        cases.push(Case {
            label: label.to_owned(),
            run,
        });
    }
    if cases.is_empty() {
        return Err(usage.to_owned());
    }

    let mut all_ok = true;
    println!(
        "| case | elapsed | ideal | x ideal | requests | answered 429 | learned rate | bounds | verdict |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|---|");
    for case in &cases {
        let (run, st) = (&case.run, case.stats()?);
        let ratio = run.elapsed_s / run.ideal_s;
        let share = st.throttled as f64 / st.requests.max(1) as f64;
        let bounds = Bounds::for_run(run);
        let complete =
            run.sent == run.count && st.delivered == run.count as u64 && st.duplicates == 0;
        let ok = complete
            && ratio <= bounds.ratio
            && bounds.share.is_none_or(|s| share <= s)
            && bounds.count.is_none_or(|c| st.throttled <= c);
        all_ok &= ok;
        let verdict = match (ok, complete) {
            (true, _) => "met".to_owned(),
            (false, false) => format!("MISSED (sent {} of {})", run.sent, run.count),
            (false, true) => "MISSED".to_owned(),
        };
        println!(
            "| {} | {:.2} s | {:.1} s | {ratio:.3} | {} | {} ({:.1} %) | {} | {} | {verdict} |",
            case.label,
            run.elapsed_s,
            run.ideal_s,
            st.requests,
            st.throttled,
            share * 100.0,
            run.learned_rate
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.3}/s")),
            bounds.describe(),
        );
    }
    println!(
        "| AWS SDK adaptive mode, no headers | 135 / 157 s | 59 s | 2.3-2.7 | ~176 | 116 (66 %) | | | reference |"
    );
    println!(
        "| AWS SDK adaptive mode, 2/s then 1/s | 120 s | ~40 s | ~3 | 165 | 105 (64 %) | | | reference |"
    );

    draw(&cases, Path::new(&out)).map_err(|e| format!("cannot write {out}: {e}"))?;
    eprintln!("wrote {out}");
    Ok(all_ok)
}

/// The width of the window the send rate is measured over, seconds (centred on each point).
const WINDOW: f64 = 5.0;

/// The send rate around `t`: the mean rate of the requests that arrived in a window of
/// [`WINDOW`] centred on `t`, `(n - 1) / (last - first)` (counting `n / WINDOW` instead
/// aliases: a steady 1/s puts 4, 5 or 6 requests in 5 s, depending on the phase). `None`
/// with fewer than two requests in the window.
fn rate_at(times: &[f64], t: f64) -> Option<f64> {
    let (a, b) = (t - WINDOW / 2.0, t + WINDOW / 2.0);
    let inside: Vec<f64> = times
        .iter()
        .copied()
        .filter(|&x| x >= a && x <= b)
        .collect();
    let (first, last) = (inside.first()?, inside.last()?);
    (inside.len() >= 2 && last > first).then(|| (inside.len() - 1) as f64 / (last - first))
}

fn draw(cases: &[Case], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let height = 260 * cases.len() as u32 + 40;
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(40);
    title.titled(
        "Adaptive pacing: 60 SMS fired at once, the limit unknown to the client",
        ("sans-serif", 20),
    )?;
    let end = cases
        .iter()
        .map(|c| c.run.elapsed_s)
        .fold(0.0_f64, f64::max)
        .ceil()
        + 1.0;
    let panels = body.split_evenly((cases.len(), 1));
    for (case, panel) in cases.iter().zip(panels) {
        let st = case.stats()?;
        let limit_top = st.limits.iter().map(|l| l.rate).fold(0.0_f64, f64::max);
        let times: Vec<f64> = st.arrivals.iter().map(|a| a.t_s).collect();
        let last = times.last().copied().unwrap_or(0.0);
        let rates: Vec<(f64, f64)> = (0..=(last * 10.0) as usize)
            .filter_map(|i| {
                let t = i as f64 / 10.0;
                rate_at(&times, t).map(|r| (t, r))
            })
            .collect();
        let top = rates.iter().map(|r| r.1).fold(limit_top, f64::max).max(1.0) * 2.0;
        let run = &case.run;
        let mut chart = ChartBuilder::on(&panel)
            .caption(
                format!(
                    "{}: {:.1} s ({:.3} x the ideal {:.1} s), {} requests, {} answered 429",
                    case.label,
                    run.elapsed_s,
                    run.elapsed_s / run.ideal_s,
                    run.ideal_s,
                    st.requests,
                    st.throttled
                ),
                ("sans-serif", 15),
            )
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..end, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the first request")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("requests / s")
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        // The server's limit: a step line.
        let mut steps = Vec::new();
        for (i, l) in st.limits.iter().enumerate() {
            let to = st.limits.get(i + 1).map_or(end, |n| n.from_s);
            steps.push((l.from_s, l.rate));
            steps.push((to, l.rate));
        }
        chart
            .draw_series(LineSeries::new(
                steps,
                RGBColor(140, 140, 140).stroke_width(4),
            ))?
            .label(format!(
                "server's limit (burst {}){}",
                run.burst,
                if run.rate_headers == "off" {
                    String::new()
                } else {
                    format!(", stated in {} rate headers", run.rate_headers)
                }
            ))
            .legend(|(x, y)| {
                PathElement::new(
                    [(x, y), (x + 20, y)],
                    RGBColor(140, 140, 140).stroke_width(4),
                )
            });
        let blue = RGBColor(30, 90, 200);
        chart
            .draw_series(LineSeries::new(rates, blue.stroke_width(2)))?
            .label(format!(
                "client's send rate (mean over a {WINDOW:.0} s window)"
            ))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], blue.stroke_width(2)));
        // Each arrival, near the bottom: 202 green, 429 red (and higher).
        let green = RGBColor(40, 160, 60);
        chart
            .draw_series(
                st.arrivals
                    .iter()
                    .filter(|a| a.status != 429)
                    .map(|a| Circle::new((a.t_s, top * 0.04), 2, green.filled())),
            )?
            .label("request let through (202)")
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, green.filled()));
        chart
            .draw_series(
                st.arrivals
                    .iter()
                    .filter(|a| a.status == 429)
                    .map(|a| Circle::new((a.t_s, top * 0.10), 4, RED.filled())),
            )?
            .label("request answered 429")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, RED.filled()));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
