//! PNG figures: velocity models, seismic images, and labelled grids of panels.
//!
//! Everything is drawn into a [`Canvas`] with an 8×8 bitmap font (no system fonts) and
//! saved atomically. A [`GridFigure`] lays out `rows × cols` panels of the same size with an
//! optional figure title, column labels above and row labels at the left (like the paper's
//! λ × α grid), a title above each panel and one colour bar at the right with min, middle
//! and max tick labels and the unit. Each data cell becomes a square block of pixels
//! (nearest neighbour: velocities stay crisp); a [`Panel::blank`] leaves its place empty.
//! A [`LinePlot`] draws curves, points and reference lines on linear axes.

pub mod canvas;
pub mod colormap;
pub mod lineplot;
pub mod text;

pub use canvas::Canvas;
pub use colormap::Colormap;
pub use lineplot::{LinePlot, Series, SeriesKind};

use anyhow::{bail, Result};
use text::{draw_text, draw_text_centred, text_height, text_width};

/// Background colour.
const WHITE: [u8; 3] = [255, 255, 255];
/// Text and frame colour.
const INK: [u8; 3] = [20, 20, 20];
/// Outer margin (px).
const MARGIN: usize = 12;
/// Gap between panels (px).
const GAP: usize = 10;
/// Text scale (8×8 glyphs drawn at 2×: 16 px lines).
const TEXT: usize = 2;
/// Width of the colour bar (px).
const BAR_WIDTH: usize = 18;

/// A row-major 2-D array to draw (row = depth).
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    /// `rows · cols` values.
    pub data: &'a [f32],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

impl<'a> Image<'a> {
    /// Wraps `data` as `rows × cols`.
    ///
    /// # Errors
    /// If `data.len() != rows · cols` or the image is empty.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        if rows == 0 || cols == 0 || rows.checked_mul(cols) != Some(data.len()) {
            bail!(
                "image of {rows} × {cols} needs {} values, got {}",
                rows.saturating_mul(cols),
                data.len()
            );
        }
        Ok(Self { data, rows, cols })
    }
}

/// One panel: an image and the title above it (may be empty).
#[derive(Debug, Clone)]
pub struct Panel<'a> {
    /// The data (0 × 0: a blank place, see [`Panel::blank`]).
    pub image: Image<'a>,
    /// Title drawn above the panel.
    pub title: String,
}

impl Panel<'_> {
    /// A place in the grid left empty (no image, no frame, no title).
    pub fn blank() -> Self {
        Self {
            image: Image {
                data: &[],
                rows: 0,
                cols: 0,
            },
            title: String::new(),
        }
    }

    /// Whether this is a [`Panel::blank`].
    pub fn is_blank(&self) -> bool {
        self.image.rows == 0 || self.image.cols == 0
    }
}

/// How values map to colours, and what the colour bar says.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorScale {
    /// The colour map.
    pub colormap: Colormap,
    /// Value shown with the map's first colour.
    pub min: f32,
    /// Value shown with the map's last colour.
    pub max: f32,
    /// Unit written above the colour bar (e.g. "km/s").
    pub unit: String,
}

impl ColorScale {
    /// Velocities in km/s with viridis between `min` and `max`.
    pub fn velocity(min: f32, max: f32) -> Self {
        Self {
            colormap: Colormap::Viridis,
            min,
            max,
            unit: "km/s".to_string(),
        }
    }

    /// Standard deviations in km/s with viridis from 0 to the largest finite value (1 when
    /// there is none above 0).
    pub fn deviation(values: impl IntoIterator<Item = f32>) -> Self {
        let max = values
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(0.0f32, f32::max);
        Self::velocity(0.0, if max > 0.0 { max } else { 1.0 })
    }

    /// A symmetric scale `[−c, c]` where `c` is the `percentile` (0–100) of `|value|` over
    /// the finite values, so that a few strong events do not wash out the rest.
    pub fn symmetric_percentile(
        data: &[f32],
        percentile: f32,
        colormap: Colormap,
        unit: &str,
    ) -> Self {
        let clip = abs_percentile(data, percentile);
        Self {
            colormap,
            min: -clip,
            max: clip,
            unit: unit.to_string(),
        }
    }

    /// The colour of `value`.
    pub fn color(&self, value: f32) -> [u8; 3] {
        if !value.is_finite() {
            return colormap::INVALID;
        }
        let span = self.max - self.min;
        let t = if span > 0.0 {
            (value - self.min) / span
        } else {
            0.5
        };
        self.colormap.rgb(t)
    }
}

/// The `percentile` (0–100) of `|x|` over finite values (nearest rank); 1 if there are none
/// or the result is 0.
pub fn abs_percentile(data: &[f32], percentile: f32) -> f32 {
    let mut magnitudes: Vec<f32> = data
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v.abs())
        .collect();
    if magnitudes.is_empty() {
        return 1.0;
    }
    let p = percentile.clamp(0.0, 100.0) / 100.0;
    let k = ((magnitudes.len() - 1) as f32 * p).round() as usize;
    let (_, value, _) = magnitudes.select_nth_unstable_by(k, f32::total_cmp);
    if *value > 0.0 {
        *value
    } else {
        1.0
    }
}

/// A grid of panels sharing one colour scale.
#[derive(Debug, Clone)]
pub struct GridFigure<'a> {
    /// Title over the whole figure (may be empty).
    pub title: String,
    /// Grid rows.
    pub rows: usize,
    /// Grid columns.
    pub cols: usize,
    /// Panels in row-major order; at most `rows · cols`, missing ones stay blank.
    pub panels: Vec<Panel<'a>>,
    /// Labels left of each grid row (empty: none).
    pub row_labels: Vec<String>,
    /// Labels above each grid column (empty: none).
    pub col_labels: Vec<String>,
    /// The shared colour scale.
    pub scale: ColorScale,
    /// Pixels per data cell; 0 picks one so that panels are at least 256 px wide.
    pub cell_pixels: usize,
}

impl<'a> GridFigure<'a> {
    /// A grid with no labels, automatic cell size.
    pub fn new(rows: usize, cols: usize, panels: Vec<Panel<'a>>, scale: ColorScale) -> Self {
        Self {
            title: String::new(),
            rows,
            cols,
            panels,
            row_labels: Vec::new(),
            col_labels: Vec::new(),
            scale,
            cell_pixels: 0,
        }
    }

    /// Draws the figure.
    ///
    /// # Errors
    /// If there are no panels (other than blanks), more panels than cells, panels of
    /// different sizes, or a label list of the wrong length.
    pub fn render(&self) -> Result<Canvas> {
        let Some(first) = self.panels.iter().find(|p| !p.is_blank()) else {
            bail!("a figure needs at least one panel")
        };
        if self.rows == 0 || self.cols == 0 || self.panels.len() > self.rows * self.cols {
            bail!(
                "{} panels do not fit a {} × {} grid",
                self.panels.len(),
                self.rows,
                self.cols
            );
        }
        let (data_rows, data_cols) = (first.image.rows, first.image.cols);
        if let Some(p) = self
            .panels
            .iter()
            .find(|p| !p.is_blank() && (p.image.rows, p.image.cols) != (data_rows, data_cols))
        {
            bail!(
                "panel '{}' is {} × {}, the first is {data_rows} × {data_cols}",
                p.title,
                p.image.rows,
                p.image.cols
            );
        }
        if !self.row_labels.is_empty() && self.row_labels.len() != self.rows {
            bail!(
                "{} row labels for {} rows",
                self.row_labels.len(),
                self.rows
            );
        }
        if !self.col_labels.is_empty() && self.col_labels.len() != self.cols {
            bail!(
                "{} column labels for {} columns",
                self.col_labels.len(),
                self.cols
            );
        }
        let cell = if self.cell_pixels > 0 {
            self.cell_pixels
        } else {
            256usize.div_ceil(data_cols).max(1)
        };
        let (panel_w, panel_h) = (data_cols * cell, data_rows * cell);
        let line = text_height(TEXT);

        // Vertical layout.
        let title_h = if self.title.is_empty() { 0 } else { line + 10 };
        let header_h = line + 8; // column labels and the unit over the colour bar
        let panel_title_h = if self.panels.iter().any(|p| !p.title.is_empty()) {
            line + 4
        } else {
            0
        };
        let cell_h = panel_title_h + panel_h;
        let grid_h = self.rows * cell_h + (self.rows - 1) * GAP;
        let height = MARGIN + title_h + header_h + grid_h + MARGIN;

        // Horizontal layout.
        let row_label_w = self
            .row_labels
            .iter()
            .map(|l| text_width(l, TEXT))
            .max()
            .map_or(0, |w| w + 10);
        let ticks = [
            self.scale.max,
            0.5 * (self.scale.min + self.scale.max),
            self.scale.min,
        ];
        let tick_text: Vec<String> = ticks
            .iter()
            .map(|&v| format_tick(v, self.scale.max - self.scale.min))
            .collect();
        let tick_w = tick_text
            .iter()
            .map(|t| text_width(t, TEXT))
            .max()
            .unwrap_or(0)
            .max(text_width(&self.scale.unit, TEXT));
        let grid_w = self.cols * panel_w + (self.cols - 1) * GAP;
        let grid_x = MARGIN + row_label_w;
        let bar_x = grid_x + grid_w + 2 * GAP;
        let width = bar_x + BAR_WIDTH + 6 + tick_w + MARGIN;
        let title_w = text_width(&self.title, TEXT) + 2 * MARGIN;
        let width = width.max(title_w);

        let mut canvas = Canvas::new(width, height, WHITE);
        if !self.title.is_empty() {
            draw_text_centred(&mut canvas, width / 2, MARGIN, &self.title, TEXT, INK);
        }
        let grid_y = MARGIN + title_h + header_h;
        for (c, label) in self.col_labels.iter().enumerate() {
            let x = grid_x + c * (panel_w + GAP) + panel_w / 2;
            draw_text_centred(&mut canvas, x, grid_y - header_h + 2, label, TEXT, INK);
        }
        for (r, label) in self.row_labels.iter().enumerate() {
            let y = grid_y + r * (cell_h + GAP) + panel_title_h + panel_h / 2 - line / 2;
            draw_text(&mut canvas, MARGIN, y, label, TEXT, INK);
        }
        for (k, panel) in self.panels.iter().enumerate() {
            if panel.is_blank() {
                continue;
            }
            let (r, c) = (k / self.cols, k % self.cols);
            let x0 = grid_x + c * (panel_w + GAP);
            let y0 = grid_y + r * (cell_h + GAP);
            if !panel.title.is_empty() {
                draw_text_centred(&mut canvas, x0 + panel_w / 2, y0, &panel.title, TEXT, INK);
            }
            let py = y0 + panel_title_h;
            for (i, row) in panel.image.data.chunks_exact(data_cols).enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    canvas.fill_rect(
                        x0 + j * cell,
                        py + i * cell,
                        cell,
                        cell,
                        self.scale.color(v),
                    );
                }
            }
            canvas.outline(
                x0.saturating_sub(1),
                py.saturating_sub(1),
                panel_w + 2,
                panel_h + 2,
                INK,
            );
        }

        // Colour bar beside the whole grid, max at the top.
        let bar_top = grid_y + panel_title_h;
        let bar_h = grid_h - panel_title_h;
        for y in 0..bar_h {
            let t = 1.0 - y as f32 / (bar_h.max(2) - 1) as f32;
            canvas.fill_rect(bar_x, bar_top + y, BAR_WIDTH, 1, self.scale.colormap.rgb(t));
        }
        canvas.outline(bar_x - 1, bar_top - 1, BAR_WIDTH + 2, bar_h + 2, INK);
        draw_text(
            &mut canvas,
            bar_x,
            grid_y - header_h + 2,
            &self.scale.unit,
            TEXT,
            INK,
        );
        let tick_x = bar_x + BAR_WIDTH + 6;
        let tick_ys = [
            bar_top,
            bar_top + bar_h / 2 - line / 2,
            bar_top + bar_h - line,
        ];
        for (text, y) in tick_text.iter().zip(tick_ys) {
            draw_text(&mut canvas, tick_x, y, text, TEXT, INK);
            canvas.fill_rect(bar_x + BAR_WIDTH, y + line / 2, 4, 1, INK);
        }
        Ok(canvas)
    }
}

/// A single velocity model with its colour bar.
///
/// # Errors
/// See [`GridFigure::render`].
pub fn velocity_figure(image: Image<'_>, title: &str, v_min: f32, v_max: f32) -> Result<Canvas> {
    let panel = Panel {
        image,
        title: title.to_string(),
    };
    GridFigure::new(1, 1, vec![panel], ColorScale::velocity(v_min, v_max)).render()
}

/// A seismic gather or RTM image, diverging colours clipped symmetrically at the
/// `clip_percentile` (e.g. 98) of `|amplitude|`.
///
/// # Errors
/// See [`GridFigure::render`].
pub fn seismic_figure(
    image: Image<'_>,
    title: &str,
    clip_percentile: f32,
    colormap: Colormap,
) -> Result<Canvas> {
    let scale =
        ColorScale::symmetric_percentile(image.data, clip_percentile, colormap, "amplitude");
    let panel = Panel {
        image,
        title: title.to_string(),
    };
    GridFigure::new(1, 1, vec![panel], scale).render()
}

/// A tick label with as many decimals as the scale's `span` needs.
pub fn format_tick(value: f32, span: f32) -> String {
    let span = span.abs();
    if span == 0.0 || !span.is_finite() || !(1e-3..1e5).contains(&span) {
        format!("{value:.2e}")
    } else if span >= 100.0 {
        format!("{value:.0}")
    } else if span >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_a_sorted_reference() {
        let data: Vec<f32> = (0..1001)
            .map(|i| if i % 2 == 0 { i as f32 } else { -(i as f32) })
            .collect();
        assert_eq!(abs_percentile(&data, 100.0), 1000.0);
        assert_eq!(abs_percentile(&data, 50.0), 500.0);
        assert_eq!(abs_percentile(&data, 98.0), 980.0);
        assert_eq!(abs_percentile(&[0.0, f32::NAN], 98.0), 1.0);
    }

    #[test]
    fn grid_layout_places_panels_and_colour_bar() {
        let a = vec![1.5f32; 4 * 8];
        let b = vec![4.5f32; 4 * 8];
        let panels = vec![
            Panel {
                image: Image::new(&a, 4, 8).unwrap(),
                title: "slow".into(),
            },
            Panel {
                image: Image::new(&b, 4, 8).unwrap(),
                title: "fast".into(),
            },
        ];
        let mut fig = GridFigure::new(1, 2, panels, ColorScale::velocity(1.5, 4.5));
        fig.cell_pixels = 10;
        fig.row_labels = vec!["λ = 1".into()];
        let canvas = fig.render().unwrap();
        // Sample the middle of each panel: the min and max colours of viridis.
        let grid_x = MARGIN + text_width("λ = 1", TEXT) + 10;
        let grid_y = MARGIN + (text_height(TEXT) + 8) + (text_height(TEXT) + 4);
        assert_eq!(
            canvas.pixel(grid_x + 40, grid_y + 20),
            Colormap::Viridis.rgb(0.0)
        );
        assert_eq!(
            canvas.pixel(grid_x + 80 + GAP + 40, grid_y + 20),
            Colormap::Viridis.rgb(1.0)
        );
        assert!(canvas.width() > grid_x + 160 + GAP + 2 * GAP + BAR_WIDTH);
    }

    #[test]
    fn blank_panels_leave_their_place_empty() {
        let a = vec![4.5f32; 2 * 4];
        let panels = vec![
            Panel::blank(),
            Panel {
                image: Image::new(&a, 2, 4).unwrap(),
                title: String::new(),
            },
        ];
        let mut fig = GridFigure::new(1, 2, panels, ColorScale::velocity(1.5, 4.5));
        fig.cell_pixels = 10;
        let canvas = fig.render().unwrap();
        let grid_y = MARGIN + text_height(TEXT) + 8;
        // The blank place stays white, frame included; the panel beside it is drawn.
        for x in MARGIN - 1..MARGIN + 41 {
            for y in grid_y - 1..grid_y + 21 {
                assert_eq!(canvas.pixel(x, y), WHITE, "({x}, {y})");
            }
        }
        assert_eq!(
            canvas.pixel(MARGIN + 40 + GAP + 5, grid_y + 5),
            Colormap::Viridis.rgb(1.0)
        );
        assert!(
            GridFigure::new(1, 1, vec![Panel::blank()], ColorScale::velocity(0.0, 1.0))
                .render()
                .is_err()
        );
    }

    #[test]
    fn mismatched_panels_are_rejected() {
        let a = vec![0.0f32; 6];
        let b = vec![0.0f32; 8];
        let panels = vec![
            Panel {
                image: Image::new(&a, 2, 3).unwrap(),
                title: String::new(),
            },
            Panel {
                image: Image::new(&b, 2, 4).unwrap(),
                title: String::new(),
            },
        ];
        assert!(
            GridFigure::new(1, 2, panels, ColorScale::velocity(0.0, 1.0))
                .render()
                .is_err()
        );
        assert!(Image::new(&a, 4, 2).is_err());
    }

    #[test]
    fn tick_labels() {
        assert_eq!(format_tick(4.5, 3.0), "4.50");
        assert_eq!(format_tick(-0.25, 0.5), "-0.250");
        assert_eq!(format_tick(3e-6, 6e-6), "3.00e-6");
    }
}
