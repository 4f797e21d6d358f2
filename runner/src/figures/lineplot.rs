//! Line plots in the style of the grids: curves, point clouds and horizontal reference
//! lines on linear axes, tick labels, axis labels and a legend at the right.
//!
//! Layout: the plot area is `width × height` pixels; y ticks are "nice" numbers (1, 2 or
//! 5 × 10^k apart, about five of them) spanning every finite y value plus a 5 % margin;
//! x ticks are given by the caller (e.g. evenly spaced categories labelled by λ) or, when
//! none are given, chosen like the y ticks. Data map linearly to pixels (y up). Lines are
//! two pixels wide (Bresenham steps, each drawn as a 2 × 2 block), dashed lines alternate
//! eight steps on and six off, and every marker is a filled square. Points outside the
//! plot area are clipped; non-finite points are skipped (a line is broken there).

use super::canvas::Canvas;
use super::text::{draw_text, draw_text_centred, text_height, text_width};
use super::{format_tick, INK, MARGIN, TEXT, WHITE};
use anyhow::{bail, Result};

/// Light grey of the grid lines at the y ticks.
const GRID: [u8; 3] = [225, 225, 225];

/// What a series draws.
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesKind {
    /// Points `(x, y)` joined in the order given, each marked by a 7-pixel square.
    Line {
        /// The points.
        points: Vec<(f64, f64)>,
        /// Dashed instead of solid.
        dashed: bool,
    },
    /// Points `(x, y)` as 5-pixel squares, not joined.
    Points(Vec<(f64, f64)>),
    /// A dashed horizontal line at this `y` across the whole plot.
    Reference(f64),
}

/// One labelled series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Colour.
    pub color: [u8; 3],
    /// What to draw.
    pub kind: SeriesKind,
}

/// A line plot (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct LinePlot {
    /// Title over the plot (may be empty).
    pub title: String,
    /// Label under the x axis.
    pub x_label: String,
    /// Label over the y axis.
    pub y_label: String,
    /// Tick positions and labels of the x axis (empty: automatic).
    pub x_ticks: Vec<(f64, String)>,
    /// The series, drawn in order (later ones on top).
    pub series: Vec<Series>,
    /// Lines of text under the legend (e.g. what the plot leaves out).
    pub notes: Vec<String>,
    /// Width of the plot area (px).
    pub width: usize,
    /// Height of the plot area (px).
    pub height: usize,
}

/// Marker sides (px) of lines and of point clouds.
const LINE_MARKER: usize = 7;
const POINT_MARKER: usize = 5;

/// About `about` "nice" ticks inside `[lo, hi]`: multiples of a spacing of 1, 2 or 5 ×
/// 10^k, the one nearest (in ratio) to the span / `about`; returns them and the spacing.
pub fn nice_ticks(lo: f64, hi: f64, about: usize) -> (Vec<f64>, f64) {
    let span = (hi - lo).abs().max(f64::MIN_POSITIVE);
    let raw = span / about.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .min_by(|a, b| (a / raw).ln().abs().total_cmp(&(b / raw).ln().abs()))
        .unwrap_or(magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    ((first..=last).map(|k| k as f64 * step).collect(), step)
}

/// A tick label for `value` when ticks are `step` apart.
fn tick_label(value: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    if (1e-4..1e6).contains(&step) {
        format!("{value:.decimals$}")
    } else {
        format_tick(value as f32, step as f32)
    }
}

impl Series {
    /// Every finite point of the series (a reference line contributes only its y).
    fn values(&self) -> (Vec<f64>, Vec<f64>) {
        let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
        match &self.kind {
            SeriesKind::Line { points, .. } | SeriesKind::Points(points) => (
                points.iter().filter(finite).map(|p| p.0).collect(),
                points.iter().filter(finite).map(|p| p.1).collect(),
            ),
            SeriesKind::Reference(y) if y.is_finite() => (Vec::new(), vec![*y]),
            SeriesKind::Reference(_) => (Vec::new(), Vec::new()),
        }
    }
}

/// Smallest and largest of `v` widened by `pad` of the span (a fixed ±0.5 when they are
/// equal); `None` when `v` is empty.
fn padded_range(v: &[f64], pad: f64) -> Option<(f64, f64)> {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return None;
    }
    let margin = if hi > lo { (hi - lo) * pad } else { 0.5 };
    Some((lo - margin, hi + margin))
}

/// Maps data to pixels of the plot area.
struct Frame {
    x0: usize,
    y0: usize,
    width: usize,
    height: usize,
    x_range: (f64, f64),
    y_range: (f64, f64),
}

impl Frame {
    /// Pixel of `(x, y)` (may lie outside the area; `None` if far outside).
    fn pixel(&self, x: f64, y: f64) -> Option<(i64, i64)> {
        let fx = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0);
        let fy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0);
        if !(fx.is_finite() && fy.is_finite()) || fx.abs() > 1e3 || fy.abs() > 1e3 {
            return None;
        }
        let px = self.x0 as f64 + fx * (self.width - 1) as f64;
        let py = self.y0 as f64 + (1.0 - fy) * (self.height - 1) as f64;
        Some((px.round() as i64, py.round() as i64))
    }

    /// Fills a `side × side` square centred on `(px, py)`, clipped to the plot area.
    fn square(&self, canvas: &mut Canvas, (px, py): (i64, i64), side: usize, color: [u8; 3]) {
        let half = (side / 2) as i64;
        for y in py - half..py - half + side as i64 {
            for x in px - half..px - half + side as i64 {
                if self.inside(x, y) {
                    canvas.set(x as usize, y as usize, color);
                }
            }
        }
    }

    fn inside(&self, x: i64, y: i64) -> bool {
        x >= self.x0 as i64
            && y >= self.y0 as i64
            && x < (self.x0 + self.width) as i64
            && y < (self.y0 + self.height) as i64
    }

    /// A two-pixel line from `a` to `b` (Bresenham), dashed or solid, clipped.
    fn segment(
        &self,
        canvas: &mut Canvas,
        a: (i64, i64),
        b: (i64, i64),
        dashed: bool,
        color: [u8; 3],
    ) {
        let (dx, dy) = ((b.0 - a.0).abs(), -(b.1 - a.1).abs());
        let (sx, sy) = (
            if a.0 < b.0 { 1 } else { -1 },
            if a.1 < b.1 { 1 } else { -1 },
        );
        let (mut x, mut y, mut err) = (a.0, a.1, dx + dy);
        for step in 0usize.. {
            if !dashed || step % 14 < 8 {
                for (ox, oy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    if self.inside(x + ox, y + oy) {
                        canvas.set((x + ox) as usize, (y + oy) as usize, color);
                    }
                }
            }
            if (x, y) == b {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }
}

impl LinePlot {
    /// Draws the plot.
    ///
    /// # Errors
    /// If the plot area is smaller than 16 × 16 pixels, or no series has a finite value.
    pub fn render(&self) -> Result<Canvas> {
        if self.width < 16 || self.height < 16 {
            bail!(
                "a line plot needs an area of at least 16 × 16 px, got {} × {}",
                self.width,
                self.height
            );
        }
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for s in &self.series {
            let (x, y) = s.values();
            xs.extend(x);
            ys.extend(y);
        }
        xs.extend(self.x_ticks.iter().map(|t| t.0).filter(|x| x.is_finite()));
        let Some(y_range) = padded_range(&ys, 0.05) else {
            bail!("a line plot needs at least one finite value")
        };
        let x_range = padded_range(&xs, 0.05).unwrap_or((0.0, 1.0));
        let (y_ticks, y_step) = nice_ticks(y_range.0, y_range.1, 5);
        let y_text: Vec<String> = y_ticks.iter().map(|&v| tick_label(v, y_step)).collect();
        let x_ticks: Vec<(f64, String)> = if self.x_ticks.is_empty() {
            let (ticks, step) = nice_ticks(x_range.0, x_range.1, 6);
            ticks.iter().map(|&v| (v, tick_label(v, step))).collect()
        } else {
            self.x_ticks.clone()
        };

        let line = text_height(TEXT);
        let title_h = if self.title.is_empty() { 0 } else { line + 10 };
        let y_label_h = line + 8;
        let tick_w = y_text
            .iter()
            .map(|t| text_width(t, TEXT))
            .max()
            .unwrap_or(0);
        let x0 = MARGIN + tick_w + 10;
        let y0 = MARGIN + title_h + y_label_h;
        let legend_x = x0 + self.width + 24;
        let legend_w = self
            .series
            .iter()
            .map(|s| 36 + text_width(&s.label, TEXT))
            .chain(self.notes.iter().map(|n| text_width(n, TEXT)))
            .max()
            .unwrap_or(0);
        let width = (legend_x + legend_w + MARGIN)
            .max(text_width(&self.title, TEXT) + 2 * MARGIN)
            .max(x0 + text_width(&self.y_label, TEXT) + MARGIN);
        let legend_h = (self.series.len() + 1 + self.notes.len()) * (line + 8);
        let height = (y0 + self.height + 8 + line + 10 + line).max(y0 + legend_h) + MARGIN;
        let mut canvas = Canvas::new(width, height, WHITE);
        let frame = Frame {
            x0,
            y0,
            width: self.width,
            height: self.height,
            x_range,
            y_range,
        };

        if !self.title.is_empty() {
            draw_text_centred(&mut canvas, width / 2, MARGIN, &self.title, TEXT, INK);
        }
        draw_text(
            &mut canvas,
            x0,
            y0 - y_label_h + 2,
            &self.y_label,
            TEXT,
            INK,
        );
        for (v, text) in y_ticks.iter().zip(&y_text) {
            if let Some((_, py)) = frame.pixel(x_range.0, *v) {
                let py = py.clamp(y0 as i64, (y0 + self.height - 1) as i64) as usize;
                canvas.fill_rect(x0, py, self.width, 1, GRID);
                canvas.fill_rect(x0 - 5, py, 5, 1, INK);
                let tx = x0 - 8 - text_width(text, TEXT);
                draw_text(
                    &mut canvas,
                    tx,
                    py.saturating_sub(line / 2),
                    text,
                    TEXT,
                    INK,
                );
            }
        }
        let axis_y = y0 + self.height;
        for (v, text) in &x_ticks {
            if let Some((px, _)) = frame.pixel(*v, y_range.0) {
                if !frame.inside(px, y0 as i64) {
                    continue;
                }
                canvas.fill_rect(px as usize, axis_y, 1, 5, INK);
                draw_text_centred(&mut canvas, px as usize, axis_y + 8, text, TEXT, INK);
            }
        }
        draw_text_centred(
            &mut canvas,
            x0 + self.width / 2,
            axis_y + 8 + line + 10,
            &self.x_label,
            TEXT,
            INK,
        );

        for s in &self.series {
            match &s.kind {
                SeriesKind::Reference(y) => {
                    if let Some((_, py)) = frame.pixel(x_range.0, *y) {
                        let right = (x0 + self.width - 1) as i64;
                        frame.segment(&mut canvas, (x0 as i64, py), (right, py), true, s.color);
                    }
                }
                SeriesKind::Line { points, dashed } => {
                    let mut last = None;
                    for p in points {
                        let here = frame.pixel(p.0, p.1);
                        if let (Some(a), Some(b)) = (last, here) {
                            frame.segment(&mut canvas, a, b, *dashed, s.color);
                        }
                        last = here;
                    }
                    for p in points {
                        if let Some(px) = frame.pixel(p.0, p.1) {
                            frame.square(&mut canvas, px, LINE_MARKER, s.color);
                        }
                    }
                }
                SeriesKind::Points(points) => {
                    for p in points {
                        if let Some(px) = frame.pixel(p.0, p.1) {
                            frame.square(&mut canvas, px, POINT_MARKER, s.color);
                        }
                    }
                }
            }
        }
        canvas.outline(x0 - 1, y0 - 1, self.width + 2, self.height + 2, INK);

        // Legend: a swatch in the series' style, then the label.
        for (k, s) in self.series.iter().enumerate() {
            let y = y0 + k * (line + 8);
            let mid = (y + line / 2) as i64;
            let swatch = Frame {
                x0: legend_x,
                y0: y,
                width: 28,
                height: line,
                x_range: (0.0, 1.0),
                y_range: (0.0, 1.0),
            };
            let (left, right) = (legend_x as i64, legend_x as i64 + 26);
            match &s.kind {
                SeriesKind::Reference(_) => {
                    swatch.segment(&mut canvas, (left, mid), (right, mid), true, s.color)
                }
                SeriesKind::Line { dashed, .. } => {
                    swatch.segment(&mut canvas, (left, mid), (right, mid), *dashed, s.color);
                    swatch.square(&mut canvas, (left + 13, mid), LINE_MARKER, s.color);
                }
                SeriesKind::Points(_) => {
                    swatch.square(&mut canvas, (left + 13, mid), POINT_MARKER, s.color)
                }
            }
            draw_text(&mut canvas, legend_x + 36, y, &s.label, TEXT, INK);
        }
        for (k, note) in self.notes.iter().enumerate() {
            let y = y0 + (self.series.len() + 1 + k) * (line + 8);
            draw_text(&mut canvas, legend_x, y, note, TEXT, INK);
        }
        Ok(canvas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RED: [u8; 3] = [200, 0, 0];
    const BLUE: [u8; 3] = [0, 0, 200];

    fn plot(series: Vec<Series>) -> LinePlot {
        LinePlot {
            title: String::new(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_ticks: Vec::new(),
            series,
            notes: Vec::new(),
            width: 201,
            height: 101,
        }
    }

    #[test]
    fn nice_ticks_are_round_and_cover_the_range() {
        let (t, step) = nice_ticks(0.27, 0.83, 5);
        assert_eq!(step, 0.1);
        assert_eq!(t.len(), 6);
        assert!((t[0] - 0.3).abs() < 1e-12 && (t[5] - 0.8).abs() < 1e-12);
        let (t, step) = nice_ticks(-3.0, 17.0, 5);
        assert_eq!(
            (step, t.first().copied(), t.last().copied()),
            (5.0, Some(0.0), Some(15.0))
        );
        assert_eq!(tick_label(0.3, 0.1), "0.3");
        assert_eq!(tick_label(15.0, 5.0), "15");
    }

    /// The marker of a point lands where the linear map puts it, and a reference line
    /// spans the plot at its y.
    #[test]
    fn points_and_references_land_on_their_pixels() {
        // x from 0 to 10 and y from 0 to 1 before the 5 % padding: x range [−0.5, 10.5],
        // y range [−0.05, 1.05].
        let p = plot(vec![
            Series {
                label: "data".into(),
                color: RED,
                kind: SeriesKind::Points(vec![(0.0, 0.0), (10.0, 1.0), (5.0, f64::NAN)]),
            },
            Series {
                label: "ref".into(),
                color: BLUE,
                kind: SeriesKind::Reference(0.5),
            },
        ]);
        let canvas = p.render().unwrap();
        let tick_w = ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
            .iter()
            .map(|t| text_width(t, TEXT))
            .max()
            .unwrap();
        let (x0, y0) = (MARGIN + tick_w + 10, MARGIN + text_height(TEXT) + 8);
        let map = |x: f64, y: f64| {
            (
                x0 + ((x + 0.5) / 11.0 * 200.0).round() as usize,
                y0 + ((1.0 - (y + 0.05) / 1.1) * 100.0).round() as usize,
            )
        };
        for (x, y) in [(0.0, 0.0), (10.0, 1.0)] {
            let (px, py) = map(x, y);
            assert_eq!(canvas.pixel(px, py), RED, "point ({x}, {y})");
        }
        let (_, ry) = map(0.0, 0.5);
        // Dashed: the first eight steps from the left edge are drawn.
        assert_eq!(canvas.pixel(x0 + 3, ry), BLUE);
        // The NaN point is skipped, nothing red in its column away from the others.
        let (nx, _) = map(5.0, 0.0);
        assert!((y0..y0 + 101).all(|y| canvas.pixel(nx, y) != RED));
        // The legend shows both colours right of the plot area.
        let legend: Vec<[u8; 3]> = (x0 + 201..canvas.width())
            .flat_map(|x| (y0..y0 + 60).map(move |y| (x, y)))
            .map(|(x, y)| canvas.pixel(x, y))
            .collect();
        assert!(legend.contains(&RED) && legend.contains(&BLUE));
    }

    #[test]
    fn lines_join_their_points() {
        let p = plot(vec![Series {
            label: "line".into(),
            color: RED,
            kind: SeriesKind::Line {
                points: vec![(0.0, 0.0), (1.0, 0.0)],
                dashed: false,
            },
        }]);
        let canvas = p.render().unwrap();
        // A flat line: y range is 0 ± 0.5, so the line runs along the middle row.
        let y = (0..canvas.height())
            .find(|&y| {
                (0..canvas.width())
                    .filter(|&x| canvas.pixel(x, y) == RED)
                    .count()
                    > 150
            })
            .expect("a long red row");
        let red = (0..canvas.width())
            .filter(|&x| canvas.pixel(x, y) == RED)
            .count();
        assert!(red > 170, "{red}");
    }

    #[test]
    fn empty_or_tiny_plots_are_refused() {
        let p = plot(vec![Series {
            label: "nothing".into(),
            color: RED,
            kind: SeriesKind::Points(vec![(f64::NAN, 1.0)]),
        }]);
        assert!(p.render().is_err());
        let mut q = plot(vec![]);
        q.width = 8;
        assert!(q.render().is_err());
    }
}
