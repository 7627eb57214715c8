//! The report's plots: SVG pictures of what a run did over time, drawn with plotters.
//!
//! Contract: a plot is rendered in memory from the `Outcome` alone, so the same outcome
//! always gives the same bytes; the HTML report embeds each one and `report::write` stores
//! it as `<name>.svg` beside the report.

/// One rendered plot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plot {
    /// The file stem, e.g. `link-traffic` (written as `link-traffic.svg`).
    pub name: String,
    /// The caption shown above it.
    pub title: String,
    /// The whole SVG document.
    pub svg: String,
}
