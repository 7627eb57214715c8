//! The experiments' plots: lines over a log-scale x axis, with a legend, as SVG (plotters).
//!
//! Contract: [`log_x_lines`] draws each series in its own palette colour in the given order
//! (the lines and legend of `report::plots::draw`, which the report's plots share) and
//! writes the file; a drawing failure becomes [`ExperimentError::Plot`] naming the file.

use std::path::Path;

use plotters::prelude::*;

use super::ExperimentError;
use crate::report::plots::draw;

/// What a chart shows besides its lines.
pub struct Axes<'a> {
    pub x: (f64, f64),
    pub y: (f64, f64),
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub legend: SeriesLabelPosition,
}

/// Writes one labelled line per series to the SVG at `path`.
pub fn log_x_lines(
    path: &Path,
    axes: &Axes,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), ExperimentError> {
    let err = |e: &dyn std::fmt::Display| ExperimentError::Plot {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let root = SVGBackend::new(path, (800, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((axes.x.0..axes.x.1).log_scale(), axes.y.0..axes.y.1)
        .map_err(|e| err(&e))?;
    chart.configure_mesh().x_desc(axes.x_desc).y_desc(axes.y_desc).draw().map_err(|e| err(&e))?;
    draw::lines(&mut chart, series, |_| 2).map_err(|e| err(&e))?;
    draw::legend(&mut chart, axes.legend.clone()).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

/// A failed write of `path`.
pub fn write_error(path: &Path, source: std::io::Error) -> ExperimentError {
    ExperimentError::Write { path: path.display().to_string(), source }
}
