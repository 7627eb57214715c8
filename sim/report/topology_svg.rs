//! Draws a [`Topology`] as one SVG: machines side by side; in each, the endpoint
//! namespaces (containers, tasks, load balancers) in a row above the plumbing namespaces
//! (the host's, the overlays'); in each namespace its devices as labelled chips, bridges as
//! bars under their ports; veth pairs as curves between their ends; VXLAN tunnels as dashed
//! lanes under the machines; the underlay LANs as bars at the bottom.
//!
//! Contract: the layout is computed on an integer grid from text lengths alone (a
//! monospace font of fixed advance), so the same topology gives the same bytes. Every chip
//! carries `data-dev="machine|namespace|device"` and every namespace box
//! `data-ns="machine|namespace"`, matching the hops' names, for the report's script to
//! highlight a selected hop.

use std::fmt::Write;

use indexmap::IndexMap;

use super::html::escape;
use super::topology::{DevKind, DevView, MachineView, NsKind, NsView, Topology};

const CHAR_W: i32 = 7;
const LINE_H: i32 = 13;
const PAD: i32 = 6;
const GAP: i32 = 8;
const TITLE_H: i32 = 32;
const BRIDGE_H: i32 = 20;
/// Room between the endpoint row and the plumbing row for the veth curves.
const WIRE_GAP: i32 = 64;
const MACHINE_GAP: i32 = 36;
const LANE_H: i32 = 16;
const LAN_H: i32 = 24;
const LABEL_MAX: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

impl Rect {
    fn shifted(self, dx: i32, dy: i32) -> Rect {
        Rect { x: self.x + dx, y: self.y + dy, ..self }
    }
    fn mid_x(self) -> i32 {
        self.x + self.w / 2
    }
    fn bottom(self) -> i32 {
        self.y + self.h
    }
}

/// Which edge of its namespace a device faces: where its wire leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Top,
    Middle,
    Bottom,
}

/// A drawn device: where, which side it faces, and its text.
#[derive(Debug, Clone)]
struct Chip {
    rect: Rect,
    side: Side,
    lines: Vec<String>,
    class: &'static str,
}

/// A namespace laid out at the origin: its size and its chips by device name.
#[derive(Debug, Clone)]
struct NsBox {
    w: i32,
    h: i32,
    chips: IndexMap<String, Chip>,
    /// Port-to-bridge ticks: (x, y1, y2).
    ticks: Vec<(i32, i32, i32)>,
}

/// A device by (machine index, namespace key, device name).
type DevKey = (usize, String, String);

/// Everything placed, in absolute coordinates.
#[derive(Default)]
struct Placed {
    out: String,
    /// Chip of each device by (machine, namespace key, device).
    chips: IndexMap<DevKey, Chip>,
}

impl Topology {
    /// The whole picture as an SVG document.
    pub fn svg(&self) -> String {
        let mut placed = Placed::default();
        let (mut x, mut bottom) = (16, 16);
        for (i, m) in self.machines.iter().enumerate() {
            let (w, h) = draw_machine(&mut placed, i, m, (x, 16));
            x += w + MACHINE_GAP;
            bottom = bottom.max(16 + h);
        }
        let width = (x - MACHINE_GAP + 16).max(200);
        let lanes = draw_tunnels(&mut placed, self, bottom + 16);
        let lan_top = bottom + 16 + lanes * LANE_H + 20;
        let height = draw_lans(&mut placed, self, lan_top, width);
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"topology\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\"11\">\n"
        );
        s += STYLE;
        s += &placed.out;
        s + "</svg>\n"
    }
}

const STYLE: &str = "<style>\
.tp-machine{fill:#f7f7f9;stroke:#555;stroke-width:1.5}\
.tp-ns{stroke:#888;stroke-width:1}\
.tp-host{fill:#eceff1}.tp-overlay{fill:#ede7f6}.tp-container{fill:#e3f2fd}\
.tp-lb{fill:#fff3e0}.tp-named{fill:#e8f5e9}\
.tp-chip{fill:#fff;stroke:#607d8b}.tp-eth{fill:#cfd8dc;stroke:#37474f}\
.tp-vxlan{fill:#d1c4e9;stroke:#5e35b1}.tp-bridge{fill:#00796b;stroke:#004d40}\
.tp-wire{fill:none;stroke:#1e88e5;stroke-width:1.5}\
.tp-tick{stroke:#004d40;stroke-width:1.5}\
.tp-tunnel{fill:none;stroke:#5e35b1;stroke-width:1.5;stroke-dasharray:6 3}\
.tp-lan{fill:#37474f}.tp-drop{stroke:#37474f;stroke-width:1.5}\
.tp-title{font-weight:bold;font-size:13px}.tp-sub{fill:#555;font-size:10px}\
.tp-white{fill:#fff}\
.sel>rect{stroke:#d81b60!important;stroke-width:3!important}\
</style>\n";

fn ns_class(kind: NsKind) -> &'static str {
    match kind {
        NsKind::Host => "tp-host",
        NsKind::Overlay => "tp-overlay",
        NsKind::Container => "tp-container",
        NsKind::LoadBalancer => "tp-lb",
        NsKind::Named => "tp-named",
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max - 1).collect::<String>() + "…"
}

fn text_w(lines: &[String]) -> i32 {
    let chars = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    i32::try_from(chars).expect("short labels") * CHAR_W + 2 * PAD
}

/// The side a device faces, given which namespaces of its machine are plumbing.
fn side_of(dev: &DevView, ns: &NsView, machine: &MachineView) -> Side {
    match &dev.kind {
        DevKind::Bridge => Side::Middle,
        DevKind::Ethernet(_) | DevKind::Vxlan { .. } | DevKind::Stacked(_) => Side::Bottom,
        DevKind::Veth(peer) => {
            let peer_kind = peer.as_ref().and_then(|(key, _)| {
                machine.namespaces.iter().find(|n| &n.key == key).map(|n| n.kind)
            });
            match peer_kind {
                Some(k) if ns.kind.is_plumbing() && !k.is_plumbing() => Side::Top,
                _ => Side::Bottom,
            }
        }
    }
}

fn chip_of(dev: &DevView, side: Side) -> Chip {
    let mut lines = vec![dev.name.clone()];
    lines.extend(dev.addrs.iter().map(|a| a.to_string()));
    let class = match &dev.kind {
        DevKind::Veth(_) => "tp-chip",
        DevKind::Stacked(what) => {
            lines.push(what.clone());
            "tp-chip"
        }
        DevKind::Bridge => "tp-bridge",
        DevKind::Ethernet(_) => "tp-eth",
        DevKind::Vxlan { vni, .. } => {
            lines.push(format!("VNI {vni}"));
            "tp-vxlan"
        }
    };
    if dev.kind == DevKind::Bridge {
        lines = vec![lines.join("  ")];
    }
    let h = if side == Side::Middle {
        BRIDGE_H
    } else {
        i32::try_from(lines.len()).expect("few lines") * LINE_H + PAD
    };
    Chip { rect: Rect { x: 0, y: 0, w: text_w(&lines), h }, side, lines, class }
}

/// Lays out one namespace at the origin: bridges with their ports as groups, then the
/// devices that are no bridge's port.
fn layout_ns(ns: &NsView, machine: &MachineView) -> NsBox {
    let mut chips: IndexMap<String, Chip> =
        ns.devices.iter().map(|d| (d.name.clone(), chip_of(d, side_of(d, ns, machine)))).collect();
    let bridges: Vec<&DevView> = ns.devices.iter().filter(|d| d.kind == DevKind::Bridge).collect();
    let mut groups: Vec<(Option<String>, Vec<String>)> = bridges
        .iter()
        .map(|b| {
            let ports = ns.devices.iter().filter(|d| d.master.as_ref() == Some(&b.name));
            (Some(b.name.clone()), ports.map(|d| d.name.clone()).collect())
        })
        .collect();
    let loose = ns.devices.iter().filter(|d| d.kind != DevKind::Bridge);
    let loose = loose.filter(|d| d.master.as_ref().is_none_or(|m| !chips.contains_key(m)));
    groups.extend(loose.map(|d| (None, vec![d.name.clone()])));
    let row_h = |chips: &IndexMap<String, Chip>, side: Side| {
        chips.values().filter(|c| c.side == side).map(|c| c.rect.h).max().map_or(0, |h| h + GAP)
    };
    let (top_h, mid_h) = (row_h(&chips, Side::Top), row_h(&chips, Side::Middle));
    let ys = [TITLE_H, TITLE_H + top_h, TITLE_H + top_h + mid_h];
    let label_w = text_w(&[clip(&ns.label, LABEL_MAX), ns.key.clone()]);
    let mut x = GAP;
    let mut ticks = Vec::new();
    for (bridge, ports) in &groups {
        x = place_group(&mut chips, bridge.as_deref(), ports, x, ys, &mut ticks) + GAP;
    }
    let h = ys[2] + row_h(&chips, Side::Bottom) + PAD;
    NsBox { w: x.max(label_w + 2 * GAP), h, chips, ticks }
}

/// Places a bridge and its ports (or one loose device) from `x`; returns the right edge.
fn place_group(
    chips: &mut IndexMap<String, Chip>,
    bridge: Option<&str>,
    ports: &[String],
    x: i32,
    ys: [i32; 3],
    ticks: &mut Vec<(i32, i32, i32)>,
) -> i32 {
    let mut right = [x, x];
    for p in ports {
        let c = chips.get_mut(p).expect("a port of this namespace");
        let row = usize::from(c.side == Side::Bottom);
        c.rect.x = right[row];
        c.rect.y = ys[if row == 0 { 0 } else { 2 }];
        right[row] += c.rect.w + GAP;
    }
    let mut end = right[0].max(right[1]) - GAP;
    if let Some(b) = bridge {
        let bw = chips[b].rect.w;
        end = end.max(x + bw);
        let c = chips.get_mut(b).expect("the group's bridge");
        c.rect = Rect { x, y: ys[1], w: end - x, h: BRIDGE_H };
        let bar = c.rect;
        for p in ports {
            let r = chips[p].rect;
            let (y1, y2) = if r.y < bar.y { (r.bottom(), bar.y) } else { (bar.bottom(), r.y) };
            ticks.push((r.mid_x(), y1, y2));
        }
    }
    end.max(x)
}

/// Draws one machine with its top-left corner at `at`; returns its size.
fn draw_machine(placed: &mut Placed, mi: usize, m: &MachineView, at: (i32, i32)) -> (i32, i32) {
    let boxes: Vec<NsBox> = m.namespaces.iter().map(|n| layout_ns(n, m)).collect();
    let (plumbing, endpoints): (Vec<usize>, Vec<usize>) =
        (0..m.namespaces.len()).partition(|&i| m.namespaces[i].kind.is_plumbing());
    let title_w = text_w(std::slice::from_ref(&m.name)) + 2 * GAP;
    let row_top = |has_endpoints: bool, endpoint_h: i32| {
        if has_endpoints {
            at.1 + 28 + endpoint_h + WIRE_GAP
        } else {
            at.1 + 28
        }
    };
    let endpoint_h = endpoints.iter().map(|&i| boxes[i].h).max().unwrap_or(0);
    let low_y = row_top(!endpoints.is_empty(), endpoint_h);
    let low = place_row(&boxes, &plumbing, at.0 + GAP);
    let chip_x = |ns: usize, dev: &str| {
        low.iter().find(|(i, _)| *i == ns).map(|(_, x)| x + boxes[ns].chips[dev].rect.mid_x())
    };
    let order = barycentre_order(m, &endpoints, &chip_x);
    let high = place_row(&boxes, &order, at.0 + GAP);
    let right = low.iter().chain(&high).map(|(i, x)| x + boxes[*i].w).max().unwrap_or(at.0);
    let w = (right + GAP - at.0).max(title_w);
    let h = low_y + plumbing.iter().map(|&i| boxes[i].h).max().unwrap_or(0) + GAP - at.1;
    let _ = writeln!(
        placed.out,
        "<g data-machine=\"{0}\"><rect class=\"tp-machine\" x=\"{1}\" y=\"{2}\" width=\"{w}\" height=\"{h}\" rx=\"8\"/><text class=\"tp-title\" x=\"{3}\" y=\"{4}\">{0}</text></g>",
        escape(&m.name), at.0, at.1, at.0 + GAP, at.1 + 19
    );
    for (i, x) in low.iter().chain(&high) {
        let y = if plumbing.contains(i) { low_y } else { at.1 + 28 };
        draw_ns(placed, mi, m, &m.namespaces[*i], &boxes[*i], (*x, y));
    }
    draw_wires(placed, mi, m);
    (w, h)
}

/// Left to right from `x`: each namespace's x.
fn place_row(boxes: &[NsBox], order: &[usize], mut x: i32) -> Vec<(usize, i32)> {
    order
        .iter()
        .map(|&i| {
            let at = x;
            x += boxes[i].w + GAP;
            (i, at)
        })
        .collect()
}

/// The endpoint namespaces in the order of their veth peers below, left to right (the
/// barycentre heuristic: few crossing wires); those without peers below keep their order.
fn barycentre_order(
    m: &MachineView,
    endpoints: &[usize],
    chip_x: &dyn Fn(usize, &str) -> Option<i32>,
) -> Vec<usize> {
    let mut keyed: Vec<(i32, usize)> = endpoints
        .iter()
        .map(|&i| {
            let xs: Vec<i32> = m.namespaces[i]
                .devices
                .iter()
                .filter_map(|d| match &d.kind {
                    DevKind::Veth(Some((ns, dev))) => {
                        let pi = m.namespaces.iter().position(|n| &n.key == ns)?;
                        chip_x(pi, dev)
                    }
                    _ => None,
                })
                .collect();
            let n = i32::try_from(xs.len()).expect("few devices");
            (if n == 0 { i32::MAX } else { xs.iter().sum::<i32>() / n }, i)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, i)| i).collect()
}

fn draw_ns(
    placed: &mut Placed,
    mi: usize,
    m: &MachineView,
    ns: &NsView,
    b: &NsBox,
    at: (i32, i32),
) {
    let key = format!("{}|{}", m.name, ns.key);
    let _ = writeln!(
        placed.out,
        "<g data-ns=\"{}\"><rect class=\"tp-ns {}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"5\"/><text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text><text class=\"tp-sub\" x=\"{}\" y=\"{}\">{}</text></g>",
        escape(&key), ns_class(ns.kind), at.0, at.1, b.w, b.h, at.0 + GAP, at.1 + 14,
        escape(&clip(&ns.label, LABEL_MAX)), at.0 + GAP, at.1 + 26, escape(&ns.key)
    );
    for (x, y1, y2) in &b.ticks {
        let _ = writeln!(
            placed.out,
            "<line class=\"tp-tick\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>",
            x + at.0,
            y1 + at.1,
            y2 + at.1
        );
    }
    for (name, chip) in &b.chips {
        let chip = Chip { rect: chip.rect.shifted(at.0, at.1), ..chip.clone() };
        draw_chip(&mut placed.out, &format!("{key}|{name}"), &chip);
        placed.chips.insert((mi, ns.key.clone(), name.clone()), chip);
    }
}

fn draw_chip(out: &mut String, key: &str, c: &Chip) {
    let r = c.rect;
    let _ = write!(
        out,
        "<g data-dev=\"{}\"><rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\"/>",
        escape(key), c.class, r.x, r.y, r.w, r.h
    );
    let fill = if c.class == "tp-bridge" { " class=\"tp-white\"" } else { "" };
    for (i, line) in c.lines.iter().enumerate() {
        let y = r.y + PAD / 2 + LINE_H * (i32::try_from(i).expect("few lines") + 1) - 2;
        let y = if c.side == Side::Middle { r.y + 14 } else { y };
        let _ = write!(out, "<text{fill} x=\"{}\" y=\"{y}\">{}</text>", r.x + PAD, escape(line));
    }
    out.push_str("</g>\n");
}

/// The veth pairs of one machine, each once.
fn draw_wires(placed: &mut Placed, mi: usize, m: &MachineView) {
    for ns in &m.namespaces {
        for d in &ns.devices {
            let DevKind::Veth(Some((peer_ns, peer_dev))) = &d.kind else { continue };
            if (&ns.key, &d.name) > (peer_ns, peer_dev) {
                continue;
            }
            let a = placed.chips.get(&(mi, ns.key.clone(), d.name.clone()));
            let b = placed.chips.get(&(mi, peer_ns.clone(), peer_dev.clone()));
            let (Some(a), Some(b)) = (a, b) else { continue };
            let (p, q) = (attach(a), attach(b));
            let _ = writeln!(
                placed.out,
                "<path class=\"tp-wire\" d=\"M{} {} C{} {} {} {} {} {}\"/>",
                p.0,
                p.1,
                p.0,
                p.1 + p.2 * 40,
                q.0,
                q.1 + q.2 * 40,
                q.0,
                q.1
            );
        }
    }
}

/// Where a chip's wire leaves: the middle of the edge it faces, and which way (-1 up).
fn attach(c: &Chip) -> (i32, i32, i32) {
    match c.side {
        Side::Top => (c.rect.mid_x(), c.rect.y, -1),
        Side::Middle | Side::Bottom => (c.rect.mid_x(), c.rect.bottom(), 1),
    }
}

/// The VXLAN tunnels between machines, one lane each from `top`; returns the lane count.
fn draw_tunnels(placed: &mut Placed, t: &Topology, top: i32) -> i32 {
    let mut seen: Vec<(DevKey, DevKey)> = Vec::new();
    for (mi, m) in t.machines.iter().enumerate() {
        for ns in &m.namespaces {
            for d in &ns.devices {
                let DevKind::Vxlan { vni, remotes } = &d.kind else { continue };
                for r in remotes {
                    let Some(other) = t.owner_of(*r).filter(|&o| o != mi) else { continue };
                    let Some((ons, odev)) = vxlan_with(&t.machines[other], *vni) else { continue };
                    let a = (mi, ns.key.clone(), d.name.clone());
                    let b = (other, ons, odev);
                    let pair = if a < b { (a, b) } else { (b, a) };
                    if !seen.contains(&pair) {
                        seen.push(pair);
                    }
                }
            }
        }
    }
    for (lane, (a, b)) in seen.iter().enumerate() {
        let y = top + LANE_H * i32::try_from(lane).expect("few tunnels") + LANE_H / 2;
        let (ca, cb) = (&placed.chips[a], &placed.chips[b]);
        let (xa, ya, xb, yb) =
            (ca.rect.mid_x(), ca.rect.bottom(), cb.rect.mid_x(), cb.rect.bottom());
        let vni = ca.lines.last().cloned().unwrap_or_default();
        let _ = writeln!(
            placed.out,
            "<path class=\"tp-tunnel\" d=\"M{xa} {ya} V{y} H{xb} V{yb}\"/><text x=\"{}\" y=\"{}\" fill=\"#5e35b1\">VXLAN {}</text>",
            (xa + xb) / 2 - 30, y - 3, escape(&vni)
        );
    }
    i32::try_from(seen.len()).expect("few tunnels")
}

/// The VXLAN device with this VNI on a machine: (namespace key, device).
fn vxlan_with(m: &MachineView, vni: u32) -> Option<(String, String)> {
    m.namespaces.iter().find_map(|ns| {
        ns.devices.iter().find_map(|d| match d.kind {
            DevKind::Vxlan { vni: v, .. } if v == vni => Some((ns.key.clone(), d.name.clone())),
            _ => None,
        })
    })
}

/// The underlay LANs as bars from `top`, each NIC dropping onto its own; returns the
/// picture's height.
fn draw_lans(placed: &mut Placed, t: &Topology, top: i32, width: i32) -> i32 {
    let mut y = top;
    for (name, subnet) in &t.underlay {
        let _ = writeln!(
            placed.out,
            "<rect class=\"tp-lan\" x=\"16\" y=\"{y}\" width=\"{}\" height=\"{LAN_H}\" rx=\"4\"/><text class=\"tp-white\" x=\"24\" y=\"{}\" font-weight=\"bold\">underlay {} {}</text>",
            width - 32, y + 16, escape(name), escape(subnet)
        );
        for ((mi, ns, dev), chip) in &placed.chips {
            let on_lan = t.machines[*mi]
                .namespaces
                .iter()
                .filter(|n| &n.key == ns)
                .flat_map(|n| &n.devices)
                .any(|d| {
                    &d.name == dev && matches!(&d.kind, DevKind::Ethernet(Some(s)) if s == name)
                });
            if on_lan {
                let _ = writeln!(
                    placed.out,
                    "<line class=\"tp-drop\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{y}\"/>",
                    chip.rect.mid_x(),
                    chip.rect.bottom()
                );
            }
        }
        y += LAN_H + 12;
    }
    y + 4
}
