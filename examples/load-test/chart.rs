//! Grouped bar charts of the results, as SVG (plotters, SVG backend only): one chart per metric,
//! one group of bars per case, one coloured bar per server, with a legend.

use std::error::Error;
use std::path::{Path, PathBuf};

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One chart: `values[s][g]` is server `s` in case group `g`; NaN draws no bar.
pub struct Chart<'a> {
    /// File name inside the chart directory, e.g. `fanout-p99.svg`.
    pub file: &'a str,
    pub title: String,
    /// What the cases are (the x axis).
    pub x_label: &'a str,
    /// The metric and its unit (the y axis).
    pub y_label: &'a str,
    pub groups: Vec<String>,
    pub servers: Vec<String>,
    pub values: Vec<Vec<f64>>,
    /// A logarithmic y axis, for metrics that span decades (latencies).
    pub log_scale: bool,
}

/// Bar colours: the first server (ours) in a strong blue, the peers in distinct hues.
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Value labels over the bars only while they fit.
const MAX_LABELLED_BARS: usize = 24;

/// Writes `chart` into `dir` (created if needed) and returns the file's path.
pub fn write(dir: &Path, chart: &Chart) -> Result<PathBuf, Box<dyn Error>> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(chart.file);
    draw(&path, chart)?;
    Ok(path)
}

fn draw(path: &Path, chart: &Chart) -> Result<(), Box<dyn Error>> {
    let groups = chart.groups.len().max(1);
    let servers = chart.servers.len().max(1);
    let finite: Vec<f64> = chart
        .values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite() && (!chart.log_scale || *v > 0.0))
        .collect();
    // Linear: from 0 to a little over the largest value. Log: whole decades around the values,
    // drawn as log10 on a linear axis (so bars can start at the bottom of the axis).
    let (y_min, y_max, y_ticks) = if chart.log_scale {
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() {
            (lo, hi)
        } else {
            (1.0, 10.0)
        };
        let bottom = lo.log10().floor();
        // Headroom over the tallest bar keeps the legend (upper left) clear of the bars.
        let span = (hi.log10() - bottom).max(0.5);
        let top = hi.log10() + 0.3 * span + 0.05;
        let mut ticks = Vec::new();
        let mut decade = bottom;
        while decade <= top {
            for step in [1.0f64, 2.0, 5.0] {
                let tick = decade + step.log10();
                if tick <= top + 1e-9 {
                    ticks.push(tick);
                }
            }
            decade += 1.0;
        }
        (bottom, top, ticks)
    } else {
        let hi = finite.iter().copied().fold(0.0, f64::max);
        let top = if hi > 0.0 {
            nice_ceiling(hi * 1.12)
        } else {
            1.0
        };
        let step = top / 10.0;
        ((0.0), top, (0..=10).map(|i| i as f64 * step).collect())
    };
    let bar_value = |v: f64| if chart.log_scale { v.log10() } else { v };
    let y_text = |y: f64| {
        if chart.log_scale {
            // 10^log10(5) is 4.999..: round to what the tick stands for.
            let v = 10f64.powf(y);
            let unit = 10f64.powf(v.log10().floor() - 2.0);
            short((v / unit).round() * unit)
        } else {
            short(y)
        }
    };

    let width = (200 + groups * (servers * 38 + 60)).clamp(900, 2400) as u32;
    let root = SVGBackend::new(path, (width, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let centres: Vec<f64> = (0..groups).map(|g| g as f64 + 0.5).collect();
    let mut plot = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(
            Keyed::new(0.0..groups as f64, centres),
            Keyed::new(y_min..y_max, y_ticks),
        )?;
    let group_label = |x: &f64| {
        chart
            .groups
            .get(x.floor() as usize)
            .cloned()
            .unwrap_or_default()
    };
    let value_label = |y: &f64| y_text(*y);
    plot.configure_mesh()
        .disable_x_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&group_label)
        .y_label_formatter(&value_label)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;

    // Each group spans one unit: 10% padding on each side, the bars share the middle 80%.
    let slot = 0.8 / servers as f64;
    let labelled = groups * servers <= MAX_LABELLED_BARS;
    for (s, name) in chart.servers.iter().enumerate() {
        let colour = COLOURS[s % COLOURS.len()];
        let values = chart.values.get(s).cloned().unwrap_or_default();
        let bars: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite() && (!chart.log_scale || **v > 0.0))
            .map(|(g, v)| (g as f64 + 0.1 + s as f64 * slot, *v))
            .collect();
        plot.draw_series(bars.iter().map(|&(x, v)| {
            Rectangle::new(
                [(x + slot * 0.06, y_min), (x + slot * 0.94, bar_value(v))],
                colour.filled(),
            )
        }))?
        .label(name.as_str())
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        if labelled {
            let style = TextStyle::from(("sans-serif", 11).into_font())
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            plot.draw_series(bars.iter().map(|&(x, v)| {
                Text::new(short(v), (x + slot / 2.0, bar_value(v)), style.clone())
            }))?;
        }
    }
    plot.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// A linear axis with labels exactly at the given points (group centres, round values); the
/// labels' text comes from the mesh's label formatters.
struct Keyed {
    inner: RangedCoordf64,
    points: Vec<f64>,
}

impl Keyed {
    fn new(range: Range<f64>, points: Vec<f64>) -> Self {
        Self {
            inner: range.into(),
            points,
        }
    }
}

impl Ranged for Keyed {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.points.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// A round number at or above `value` (1, 2 or 5 times a power of ten).
fn nice_ceiling(value: f64) -> f64 {
    let decade = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|v| *v >= value)
        .unwrap_or(10.0 * decade)
}

/// A compact number: 950, 9.5k, 1.2M.
pub fn short(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = if magnitude >= 1e9 {
        (value / 1e9, "G")
    } else if magnitude >= 1e6 {
        (value / 1e6, "M")
    } else if magnitude >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let text = if scaled.abs() >= 100.0 {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 10.0 {
        format!("{scaled:.1}")
    } else {
        format!("{scaled:.2}")
    };
    // 1.50M -> 1.5M, 5.00 -> 5.
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{suffix}")
}
