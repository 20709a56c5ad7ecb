//! A plain SVG chart of a simulated day: per queue, the service level of each hour as
//! bars against the goal, and the number of callers waiting as a line. Written by hand:
//! a few dozen elements do not need a plotting library.

use std::fmt::Write as _;

/// One queue's panel.
#[derive(Debug)]
pub(crate) struct Panel {
    pub(crate) title: String,
    pub(crate) target_seconds: f64,
    pub(crate) goal: f64,
    /// Hour of day and its service level (none when nobody called).
    pub(crate) service_level: Vec<(usize, Option<f64>)>,
    /// Seconds from midnight and callers waiting.
    pub(crate) waiting: Vec<(f64, u64)>,
}

const WIDTH: f64 = 960.0;
const PANEL: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 60.0;
const PLOT: f64 = 200.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The whole chart as an SVG document.
pub(crate) fn render(title: &str, panels: &[Panel]) -> String {
    let first = panels.iter().flat_map(|p| p.service_level.iter().map(|s| s.0)).min().unwrap_or(8);
    let last = panels.iter().flat_map(|p| p.service_level.iter().map(|s| s.0 + 1)).max().unwrap_or(16).max(first + 1);
    let height = 40.0 + PANEL * panels.len() as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(svg, r#"<text x="{LEFT}" y="26" font-size="18" font-weight="bold">{}</text>"#, escape(title));
    let plot_w = WIDTH - LEFT - RIGHT;
    let x_of = |seconds: f64| LEFT + (seconds / 3600.0 - first as f64) / (last - first) as f64 * plot_w;
    for (i, p) in panels.iter().enumerate() {
        let top = 40.0 + PANEL * i as f64 + TOP - 20.0;
        let bottom = top + PLOT;
        let y_sl = |sl: f64| bottom - sl * PLOT;
        let max_wait = p.waiting.iter().map(|w| w.1).max().unwrap_or(0).max(1);
        let y_max = (max_wait as f64 / 4.0).ceil() * 4.0;
        let y_wait = |n: f64| bottom - n / y_max * PLOT;
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="{}" font-size="15" font-weight="bold">{}</text>"#,
            top - 12.0,
            escape(&format!(
                "{}: service level per hour ({:.0} % within {:.0} s is the goal) and callers waiting",
                p.title,
                p.goal * 100.0,
                p.target_seconds
            ))
        );
        // Axes and grid.
        for tick in 0..=4 {
            let sl = f64::from(tick) / 4.0;
            let y = y_sl(sl);
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end" fill="#1f5fa8">{:.0} %</text><text x="{}" y="{}" fill="#444">{:.0}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0,
                sl * 100.0,
                LEFT + plot_w + 6.0,
                y + 4.0,
                y_max * sl
            );
        }
        for h in first..=last {
            let x = x_of(h as f64 * 3600.0);
            let _ = writeln!(
                svg,
                r##"<line x1="{x}" x2="{x}" y1="{bottom}" y2="{}" stroke="#999"/><text x="{x}" y="{}" text-anchor="middle">{h:02}:00</text>"##,
                bottom + 5.0,
                bottom + 18.0
            );
        }
        // Service level bars.
        for &(h, sl) in &p.service_level {
            let (x0, x1) = (x_of(h as f64 * 3600.0), x_of((h + 1) as f64 * 3600.0));
            let Some(sl) = sl else { continue };
            let colour = if sl >= p.goal { "#9cc3ea" } else { "#f2a38f" };
            let _ = writeln!(
                svg,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="{colour}"><title>{h:02}:00 service level {:.1} %</title></rect><text x="{}" y="{}" text-anchor="middle" fill="#1f5fa8">{:.0} %</text>"##,
                x0 + 4.0,
                y_sl(sl),
                (x1 - x0 - 8.0).max(1.0),
                sl * PLOT,
                sl * 100.0,
                (x0 + x1) / 2.0,
                (y_sl(sl) - 4.0).max(top + 10.0),
                sl * 100.0
            );
        }
        // Goal line.
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#c0392b" stroke-dasharray="6 4" stroke-width="1.5"/>"##,
            LEFT + plot_w,
            y = y_sl(p.goal)
        );
        // Callers waiting.
        let points: Vec<String> = p
            .waiting
            .iter()
            .filter(|w| w.0 >= first as f64 * 3600.0 && w.0 <= last as f64 * 3600.0)
            .map(|&(t, n)| format!("{:.1},{:.1}", x_of(t), y_wait(n as f64)))
            .collect();
        let _ = writeln!(
            svg,
            r##"<polyline fill="none" stroke="#222" stroke-width="1.5" points="{}"/>"##,
            points.join(" ")
        );
        // Axis titles and legend.
        let _ = writeln!(
            svg,
            r##"<text transform="translate(16,{m}) rotate(-90)" text-anchor="middle" fill="#1f5fa8">service level</text><text transform="translate({r},{m}) rotate(90)" text-anchor="middle" fill="#444">callers waiting</text>"##,
            m = (top + bottom) / 2.0,
            r = WIDTH - 16.0
        );
        let ly = bottom + 36.0;
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{}" width="14" height="10" fill="#9cc3ea"/><text x="{}" y="{ly}">goal met</text><rect x="{}" y="{}" width="14" height="10" fill="#f2a38f"/><text x="{}" y="{ly}">goal missed</text><line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#c0392b" stroke-dasharray="6 4"/><text x="{}" y="{ly}">goal</text><line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#222" stroke-width="1.5"/><text x="{}" y="{ly}">callers waiting (right axis)</text>"##,
            ly - 9.0,
            LEFT + 20.0,
            LEFT + 100.0,
            ly - 9.0,
            LEFT + 120.0,
            LEFT + 210.0,
            LEFT + 240.0,
            ly - 4.0,
            ly - 4.0,
            LEFT + 246.0,
            LEFT + 300.0,
            LEFT + 330.0,
            ly - 4.0,
            ly - 4.0,
            LEFT + 336.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
