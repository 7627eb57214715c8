//! Drawing with plotters, shared by the report's plots and the experiments' figures: labelled
//! lines in palette colours with a legend, and bars on named rows (a timeline of states).
//!
//! Contract: every function only draws; the same input gives the same SVG bytes. Drawing
//! into memory cannot fail, so [`svg`] treats a plotters error as a bug; the experiments,
//! which draw into files, get their errors back.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// What drawing on the SVG backend may fail with.
pub type DrawError = DrawingAreaErrorKind<std::io::Error>;

/// The size of every plot, in pixels.
pub const SIZE: (u32, u32) = (800, 420);
/// The width of a line; where lines lie on each other, earlier ones are wider, up to
/// [`STROKE`] + [`STROKE_LAYERS`], so each still shows.
const STROKE: u32 = 2;
const STROKE_LAYERS: u32 = 3;

/// One labelled line.
pub type Series = (String, Vec<(f64, f64)>);

/// Draws on an SVG document in memory and returns it.
pub fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), DrawError>,
) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present())
            .expect("drawing into memory");
    }
    out
}

/// Each series as a line in its palette colour (by position), `width(i)` pixels wide,
/// labelled for the legend.
pub fn lines<CT>(
    chart: &mut ChartContext<SVGBackend, CT>,
    series: &[Series],
    width: impl Fn(usize) -> u32,
) -> Result<(), DrawError>
where
    CT: CoordTranslate<From = (f64, f64)>,
{
    for (i, (label, points)) in series.iter().enumerate() {
        let style = Palette99::pick(i).to_rgba().stroke_width(width(i));
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    Ok(())
}

/// The legend of the labelled series, framed, at `position`.
pub fn legend<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, CT>,
    position: SeriesLabelPosition,
) -> Result<(), DrawError> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
}

/// What a line chart over simulated time shows besides its lines.
pub struct TimeAxes<'a> {
    /// The run's length in seconds: the x axis goes from 0 to there.
    pub end_secs: f64,
    pub y_desc: &'a str,
}

/// Counts over simulated time, from zero up, as lines (earlier ones wider, so lines on top
/// of each other all show), with the legend in the upper left corner above the highest
/// point.
pub fn time_lines(axes: &TimeAxes, series: &[Series]) -> String {
    let top = series.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y)).fold(1.0, f64::max);
    let y_max = (top * legend_headroom(series.len())).ceil();
    let n = series.len() as u32;
    let width = |i: usize| STROKE + (n - 1 - i as u32).min(STROKE_LAYERS);
    svg(SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..axes.end_secs.max(1.0), 0.0..y_max)?;
        chart
            .configure_mesh()
            .y_labels((y_max as usize + 1).min(10))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(LABEL_FONT)
            .axis_desc_style(LABEL_FONT)
            .x_desc("simulated time (s)")
            .y_desc(axes.y_desc)
            .draw()?;
        lines(&mut chart, series, width)?;
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// How much higher than the highest point the y axis goes, so that a legend of `entries`
/// lines in the upper corner stays clear of the data.
fn legend_headroom(entries: usize) -> f64 {
    let legend_share = (20.0 * entries as f64 + 30.0) / f64::from(SIZE.1 - 60);
    1.0 / (1.0 - legend_share.min(0.75))
}

/// A category of bars: its name in the legend and its colour.
pub struct Category<'a> {
    pub name: &'a str,
    pub color: RGBColor,
}

/// A bar on a row: the row's state from `from` to `to` seconds, with a note drawn on it.
pub struct Bar {
    pub row: usize,
    pub from: f64,
    pub to: f64,
    pub category: usize,
    pub note: Option<String>,
}

/// Rows of bars over simulated time (a timeline of states): one row per name, top first,
/// each bar coloured by its category, the legend above the rows.
pub fn state_rows(end_secs: f64, rows: &[String], categories: &[Category], bars: &[Bar]) -> String {
    let label_width = rows.iter().map(|r| r.chars().count()).max().unwrap_or(0) as u32 * 8 + 20;
    let height = 120 + ROW_HEIGHT * rows.len() as u32;
    svg((SIZE.0, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_top(48)
            .x_label_area_size(50)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0.0..end_secs.max(1.0), 0.0..rows.len() as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .label_style(LABEL_FONT)
            .axis_desc_style(LABEL_FONT)
            .x_desc("simulated time (s)")
            .draw()?;
        draw_bars(&mut chart, rows.len(), categories, bars)?;
        let label =
            TextStyle::from(LABEL_FONT.into_font()).pos(Pos::new(HPos::Right, VPos::Center));
        for (i, row) in rows.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(0.0, row_center(rows.len(), i)));
            root.draw(&Text::new(row.as_str(), (x - 8, y), label.clone()))?;
        }
        legend_row(root, label_width, categories)
    })
}

/// Pixels per row of [`state_rows`].
const ROW_HEIGHT: u32 = 40;
/// The axes' labels and descriptions.
const LABEL_FONT: (&str, u32) = ("sans-serif", 14);

/// Where row `row` of `rows` is centred: row 0 at the top.
fn row_center(rows: usize, row: usize) -> f64 {
    (rows - 1 - row) as f64 + 0.5
}

/// The bars, one series per category, each with its note at its left end if it fits.
fn draw_bars<'a, 'b: 'a>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    rows: usize,
    categories: &[Category],
    bars: &[Bar],
) -> Result<(), DrawError> {
    for (c, category) in categories.iter().enumerate() {
        let style = category.color.filled();
        let mine = bars.iter().filter(|b| b.category == c);
        chart.draw_series(mine.map(|b| {
            let y = row_center(rows, b.row);
            Rectangle::new([(b.from, y - 0.35), (b.to, y + 0.35)], style)
        }))?;
    }
    let text = TextStyle::from(("sans-serif", 13).into_font())
        .color(&WHITE)
        .pos(Pos::new(HPos::Left, VPos::Center));
    // A note goes only on a bar wide enough to hold it (about 7 pixels a character).
    let fits = |note: &str, b: &Bar| {
        let (left, _) = chart.backend_coord(&(b.from, 0.0));
        let (right, _) = chart.backend_coord(&(b.to, 0.0));
        right - left >= 7 * note.chars().count() as i32 + 8
    };
    let notes: Vec<_> = bars
        .iter()
        .filter_map(|b| Some((b.note.as_ref()?, b)))
        .filter(|(note, b)| fits(note, b))
        .collect();
    chart.draw_series(notes.into_iter().map(|(note, b)| {
        let at = (b.from, row_center(rows, b.row));
        EmptyElement::at(at) + Text::new(note.clone(), (4, 0), text.clone())
    }))?;
    Ok(())
}

/// The categories' colours and names in one line above the chart, starting over the bars.
fn legend_row(
    root: &DrawingArea<SVGBackend, Shift>,
    left: u32,
    categories: &[Category],
) -> Result<(), DrawError> {
    let mut x = left as i32 + 12;
    for category in categories {
        root.draw(&Rectangle::new([(x, 16), (x + 16, 30)], category.color.filled()))?;
        root.draw(&Text::new(category.name, (x + 22, 16), ("sans-serif", 14).into_font()))?;
        x += 40 + 8 * category.name.chars().count() as i32;
    }
    Ok(())
}
