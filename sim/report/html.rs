//! `report.html`: the run on one self-contained page — the topology picture, a packet
//! explorer (every packet, filters by host, protocol and device; a packet's hops; a hop's
//! frame header by header), the transcript, the checks and warnings, the reachability
//! matrix and the plots.
//!
//! Contract: the page fetches nothing (inline CSS, script and SVG; the data as JSON in a
//! `<script type="application/json">`), so it opens offline from `file://`; it is rendered
//! from the `Outcome` and the plots alone, so the same run gives the same bytes. The
//! explorer's element ids (`packet-rows`, `hop-list`, `hop-detail`, `headers`, `f-host`,
//! `f-proto`, `f-dev`, `packet-count`) are what the browser test drives.

use std::fmt::Write;

use crate::check::{CheckResult, Matrix};
use crate::runner::Outcome;

use super::plots::Plot;
use super::topology::NsKind;

const CSS: &str = include_str!("assets/report.css");
const SCRIPT: &str = include_str!("assets/report.js");

/// Text made safe for HTML and SVG element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON for a `<script>` element: `</` could end it early, and `\/` means `/` in JSON.
fn script_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes").replace("</", "<\\/")
}

/// The whole page.
pub fn render(name: &str, outcome: &Outcome, plots: &[Plot]) -> String {
    let checks = super::all_checks(outcome);
    let failed = checks.iter().filter(|c| !c.held).count();
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} — swarmsim report</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        escape(name)
    );
    let (class, verdict) =
        if failed == 0 { ("ok", "all checks held") } else { ("fail", "checks failed") };
    let _ = writeln!(
        s,
        "<header><h1>{}</h1><span class=\"meta\">seed {} · {} events · simulated {}</span><span class=\"badge {class}\">{} passed, {failed} failed — {verdict}</span></header>",
        escape(name), outcome.seed, outcome.events, outcome.end, checks.len() - failed
    );
    s += "<nav><a href=\"#topology\">Topology</a><a href=\"#packets\">Packets</a><a href=\"#transcript\">Transcript</a><a href=\"#checks\">Checks</a><a href=\"#reachability\">Reachability</a><a href=\"#plots\">Plots</a></nav>\n<main>\n";
    s += &topology_section(outcome);
    s += &packets_section(outcome);
    s += &transcript_section(outcome);
    s += &checks_section(outcome, &checks);
    s += &matrix_section(&outcome.matrix);
    s += &plots_section(plots);
    let _ = write!(s, "</main>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    s
}

fn topology_section(outcome: &Outcome) -> String {
    let t = &outcome.topology;
    let when = if t.line == 0 {
        "as the run began".to_string()
    } else {
        format!(
            "as it stood after the step on line {} (the step that left the most devices)",
            t.line
        )
    };
    format!(
        "<section id=\"topology\"><h2>Topology</h2><p class=\"caption\">The machines {when}: namespaces, devices and addresses; veth pairs in blue, bridges in green, VXLAN tunnels dashed. Selecting a hop below marks its namespace and device.</p><div class=\"figure\">{}</div></section>\n",
        t.svg()
    )
}

fn packets_section(outcome: &Outcome) -> String {
    let data = super::packets::packets(outcome);
    let mut labels: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for m in &outcome.topology.machines {
        for ns in m.namespaces.iter().filter(|n| n.kind != NsKind::Host && n.label != n.key) {
            labels.insert(format!("{}|{}", m.name, ns.key), ns.label.clone());
        }
    }
    format!(
        r#"<section id="packets"><h2>Packets</h2>
<p class="caption">Every packet of the run, by its first hop. Pick one to follow its hops; pick a hop (or use ↑ ↓) to see the frame it carried there.</p>
<div class="explorer"><div>
<div class="filters"><label>Host <select id="f-host"><option value="">all</option></select></label><label>Protocol <select id="f-proto"><option value="">all</option></select></label><label>Device <select id="f-dev"><option value="">all</option></select></label><span id="packet-count"></span></div>
<div class="scroll"><table id="packet-table"><thead><tr><th>#</th><th>time</th><th>from</th><th>protocols</th><th>first frame</th></tr></thead><tbody id="packet-rows"></tbody></table></div>
</div><div>
<h3 id="packet-title" class="empty">No packet selected</h3>
<ol id="hop-list"></ol>
<div class="hop-nav"><button id="hop-prev" type="button">◀ previous hop</button><button id="hop-next" type="button">next hop ▶</button><span id="hop-pos"></span></div>
<div id="hop-detail"></div>
<p id="frame-title" class="caption"></p>
<div id="headers"></div>
</div></div>
<script type="application/json" id="packet-data">{}</script>
<script type="application/json" id="ns-labels">{}</script>
</section>
"#,
        script_json(&data),
        script_json(&labels)
    )
}

fn transcript_section(outcome: &Outcome) -> String {
    let mut s = String::from("<section id=\"transcript\"><h2>Transcript</h2><pre>");
    for e in &outcome.entries {
        let _ = writeln!(s, "<span class=\"prompt\">{}</span>", escape(&e.prompt));
        s += &escape(&e.output);
        if !e.output.is_empty() && !e.output.ends_with('\n') {
            s.push('\n');
        }
        s.push('\n');
    }
    s + "</pre></section>\n"
}

fn checks_section(outcome: &Outcome, checks: &[&CheckResult]) -> String {
    let mut s = String::from("<section id=\"checks\"><h2>Checks</h2>");
    if !outcome.warnings.is_empty() {
        s += "<h3>Warnings</h3><ul>";
        for w in &outcome.warnings {
            let _ = write!(s, "<li>{}</li>", escape(w));
        }
        s += "</ul>";
    }
    s += "<table><thead><tr><th>line</th><th>verdict</th><th>check</th><th>detail</th></tr></thead><tbody>\n";
    for c in checks {
        let (class, mark) = if c.held { ("ok-mark", "ok") } else { ("fail-mark", "FAIL") };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"{class}\">{mark}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            c.line,
            escape(&c.what),
            escape(c.detail.trim_end())
        );
    }
    s + "</tbody></table></section>\n"
}

fn matrix_section(m: &Matrix) -> String {
    let mut s =
        String::from("<section id=\"reachability\"><h2>Reachability at the end of the run</h2>");
    if m.names.is_empty() {
        return s + "<p class=\"empty\">No endpoints.</p></section>\n";
    }
    s += "<table class=\"matrix\"><thead><tr><th>from \\ to</th>";
    for n in &m.names {
        let _ = write!(s, "<th>{}</th>", escape(n));
    }
    s += "</tr></thead><tbody>\n";
    for (name, row) in m.names.iter().zip(&m.cells) {
        let _ = write!(s, "<tr><th>{}</th>", escape(name));
        for c in row {
            let _ = write!(s, "<td>{}</td>", c.map_or("—".to_string(), super::cell_text));
        }
        s += "</tr>\n";
    }
    s + "</tbody></table><p class=\"caption\"><code>I</code>: answers ICMP echo; <code>T&lt;port&gt;</code>: a TCP handshake completes on the destination's lowest listening port; <code>·</code>: neither.</p></section>\n"
}

fn plots_section(plots: &[Plot]) -> String {
    let mut s = String::from("<section id=\"plots\"><h2>Plots</h2>");
    if plots.is_empty() {
        s += "<p class=\"empty\">No plots for this run.</p>";
    }
    for p in plots {
        let svg = p.svg.trim_start();
        let svg = match svg.strip_prefix("<?xml") {
            Some(rest) => rest.split_once("?>").map_or(svg, |(_, body)| body.trim_start()),
            None => svg,
        };
        let _ = write!(
            s,
            "<figure id=\"plot-{}\"><figcaption>{}</figcaption><div class=\"figure\">{svg}</div></figure>",
            escape(&p.name),
            escape(&p.title)
        );
    }
    s + "</section>\n"
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::SimTime;

    pub(crate) fn empty_outcome() -> Outcome {
        Outcome {
            seed: 3,
            entries: Vec::new(),
            checks: vec![CheckResult {
                line: 4,
                what: "a <b> check".into(),
                held: false,
                detail: "saw x".into(),
            }],
            captures: Vec::new(),
            hops: Vec::new(),
            frames: Vec::new(),
            topology: Default::default(),
            timeline: Default::default(),
            startup_ops: Vec::new(),
            applied_ops: Vec::new(),
            warnings: vec!["option \"x\" ignored".into()],
            end: SimTime::ZERO,
            events: 9,
            matrix: Matrix::default(),
        }
    }

    #[test]
    fn text_and_json_cannot_break_out_of_their_elements() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(script_json(&["</script>"]), r#"["<\/script>"]"#);
    }

    #[test]
    fn the_page_fetches_nothing_and_embeds_each_plot_with_its_title() {
        let plot = Plot {
            name: "link-traffic".into(),
            title: "Traffic per link".into(),
            svg: "<?xml version=\"1.0\"?>\n<svg width=\"1\"></svg>\n".into(),
        };
        let page = render("demo", &empty_outcome(), &[plot]);
        assert!(page.starts_with("<!DOCTYPE html>\n"));
        assert!(page.contains("<figure id=\"plot-link-traffic\"><figcaption>Traffic per link</figcaption><div class=\"figure\"><svg width=\"1\"></svg>"));
        assert!(!page.contains("<?xml"));
        assert!(
            page.contains("<span class=\"badge fail\">0 passed, 1 failed — checks failed</span>")
        );
        assert!(page.contains("<td>a &lt;b&gt; check</td><td class=\"mono\">saw x</td>"));
        assert!(page.contains("<li>option &quot;x&quot; ignored</li>"));
        for remote in
            ["src=\"http", "href=\"http", "url(http", "@import", "fetch(", "XMLHttpRequest"]
        {
            assert!(!page.contains(remote), "the page loads {remote}");
        }
        assert!(page.contains("<script type=\"application/json\" id=\"packet-data\">{\"machines\":[],\"layers\":[],\"frames\":[],\"packets\":[]}</script>"));
    }
}
