//! The membership state transitions (memberlist `state.go` `aliveNode`, `suspectNode`,
//! `deadNode`, `refute`, `mergeState`, and `memberlist.go` `setAlive`, `UpdateNode`,
//! `Leave`), each re-broadcasting what it learned.

use std::net::SocketAddrV4;

use super::{
    suspicion_timeout, Alive, Dead, Delegate, Event, Member, Message, NodeInfo, NodeState, Out,
    Output, PushNodeState, State, Suspect, Suspicion,
};
use crate::engine::SimTime;

impl<D: Delegate> Member<D> {
    /// memberlist `setAlive`: this node, alive at the next incarnation.
    pub(super) fn set_alive(&mut self, now: SimTime, out: &mut Out<D>) {
        self.incarnation += 1;
        let a = Alive {
            incarnation: self.incarnation,
            node: self.config.name.clone(),
            addr: self.config.socket(),
            meta: self.nodes.get(&self.config.name).map(|n| n.meta.clone()).unwrap_or_default(),
        };
        self.alive_node(now, a, true, out);
    }

    /// memberlist `UpdateNode`: new metadata, announced with a new incarnation.
    pub fn update_meta(&mut self, now: SimTime, meta: Vec<u8>, out: &mut Out<D>) {
        self.incarnation += 1;
        let a = Alive {
            incarnation: self.incarnation,
            node: self.config.name.clone(),
            addr: self.config.socket(),
            meta,
        };
        self.alive_node(now, a, true, out);
    }

    /// memberlist `Leave`: announce this node's own death (which others record as left).
    /// The caller keeps the member running long enough for the news to spread (Docker waits
    /// up to 1 s) and then drops it.
    pub fn leave(&mut self, now: SimTime, out: &mut Out<D>) {
        if self.left {
            return;
        }
        self.left = true;
        let d = Dead {
            incarnation: self.incarnation,
            node: self.config.name.clone(),
            from: self.config.name.clone(),
        };
        self.dead_node(now, d, out);
    }

    fn info(n: &NodeState) -> NodeInfo {
        NodeInfo { name: n.name.clone(), addr: n.addr, meta: n.meta.clone() }
    }

    /// Creates the entry for a node first heard of, at a random place in the probe list
    /// (so that new nodes are not all probed last), in the dead state until proven alive.
    fn insert_node(&mut self, now: SimTime, a: &Alive) {
        let node = NodeState {
            name: a.node.clone(),
            addr: a.addr,
            meta: a.meta.clone(),
            incarnation: 0,
            state: State::Dead,
            state_change: now,
        };
        self.nodes.insert(a.node.clone(), node);
        let n = self.order.len();
        let offset = self.random_offset(n);
        self.order.push(a.node.clone());
        self.order.swap(offset, n);
    }

    /// memberlist `aliveNode`. `bootstrap` is this node announcing itself.
    pub(super) fn alive_node(&mut self, now: SimTime, a: Alive, bootstrap: bool, out: &mut Out<D>) {
        let is_local = a.node == self.config.name;
        if self.left && is_local {
            return;
        }
        let mut updates_node = false;
        match self.nodes.get(&a.node) {
            None => self.insert_node(now, &a),
            Some(n) if n.addr != a.addr => {
                // A left node's name may come back at a new address; otherwise a conflict.
                if n.state != State::Left {
                    return;
                }
                updates_node = true;
            }
            Some(_) => {}
        }
        let state = &self.nodes[&a.node];
        if a.incarnation <= state.incarnation && !is_local && !updates_node {
            return;
        }
        if a.incarnation < state.incarnation && is_local {
            return;
        }
        self.suspicions.shift_remove(&a.node);
        let (old_state, old_meta) = (state.state, state.meta.clone());
        if !bootstrap && is_local {
            if a.incarnation == state.incarnation && a.meta == state.meta {
                return;
            }
            self.refute(a.incarnation);
        } else {
            self.broadcasts.queue(&a.node, Message::Alive(a.clone()));
            let node = self.nodes.get_mut(&a.node).expect("node present");
            node.incarnation = a.incarnation;
            node.meta = a.meta;
            node.addr = a.addr;
            if node.state != State::Alive {
                node.state = State::Alive;
                node.state_change = now;
            }
        }
        let node = &self.nodes[&a.node];
        if old_state.dead_or_left() {
            out.push(Output::Event(Event::Join(Self::info(node))));
        } else if old_meta != node.meta {
            out.push(Output::Event(Event::Update(Self::info(node))));
        }
    }

    /// memberlist `refute`: beat the accusation's incarnation, lose a point of health, and
    /// gossip an alive message (keyed by address, as memberlist does).
    fn refute(&mut self, accused: u32) {
        self.incarnation += 1;
        if accused >= self.incarnation {
            self.incarnation = accused + 1;
        }
        self.awareness.apply_delta(1);
        let me = self.nodes.get_mut(&self.config.name).expect("self is known");
        me.incarnation = self.incarnation;
        let a = Alive {
            incarnation: self.incarnation,
            node: me.name.clone(),
            addr: me.addr,
            meta: me.meta.clone(),
        };
        self.broadcasts.queue(&me.addr.ip().to_string(), Message::Alive(a));
    }

    /// memberlist `suspectNode`: confirm a running suspicion, refute one about this node, or
    /// start the Lifeguard timer for a live node.
    pub(super) fn suspect_node(&mut self, now: SimTime, s: Suspect) {
        let Some(state) = self.nodes.get(&s.node) else { return };
        if s.incarnation < state.incarnation {
            return;
        }
        if let Some(timer) = self.suspicions.get_mut(&s.node) {
            if timer.confirm(&s.from, now) {
                self.broadcasts.queue(&s.node.clone(), Message::Suspect(s));
            }
            return;
        }
        if state.state != State::Alive {
            return;
        }
        if s.node == self.config.name {
            self.refute(s.incarnation);
            return;
        }
        let node = self.nodes.get_mut(&s.node).expect("node present");
        node.incarnation = s.incarnation;
        node.state = State::Suspect;
        node.state_change = now;
        let n = self.num_nodes();
        let mut k = self.config.suspicion_mult.saturating_sub(2);
        // Not enough other members to confirm: ourselves and the suspect do not count.
        // Without health-aware suspicion no confirmation is awaited: the fixed minimum.
        if (n as i64) - 2 < i64::from(k) || !self.config.lifeguard.aware_suspicion {
            k = 0;
        }
        let min = suspicion_timeout(self.config.suspicion_mult, n, self.config.probe_interval);
        let max = min * u64::from(self.config.suspicion_max_timeout_mult);
        self.suspicions.insert(s.node.clone(), Suspicion::new(&s.from, k, min, max, now));
        self.broadcasts.queue(&s.node.clone(), Message::Suspect(s));
    }

    /// Suspicion timers that ran out declare their suspects dead.
    pub(super) fn expire_suspicions(&mut self, now: SimTime, out: &mut Out<D>) {
        let due: Vec<(String, SimTime)> = self
            .suspicions
            .iter()
            .filter(|(_, s)| s.deadline() <= now)
            .map(|(name, s)| (name.clone(), s.change))
            .collect();
        for (name, change) in due {
            self.suspicions.shift_remove(&name);
            let Some(node) = self.nodes.get(&name) else { continue };
            if node.state == State::Suspect && node.state_change == change {
                let d = Dead {
                    incarnation: node.incarnation,
                    node: name,
                    from: self.config.name.clone(),
                };
                self.dead_node(now, d, out);
            }
        }
    }

    /// memberlist `deadNode`: a node is dead (or left, when it says so itself); about this
    /// node, refute unless leaving.
    pub(super) fn dead_node(&mut self, now: SimTime, d: Dead, out: &mut Out<D>) {
        let Some(state) = self.nodes.get(&d.node) else { return };
        if d.incarnation < state.incarnation {
            return;
        }
        self.suspicions.shift_remove(&d.node);
        if state.state.dead_or_left() {
            return;
        }
        if d.node == self.config.name && !self.left {
            self.refute(d.incarnation);
            return;
        }
        self.broadcasts.queue(&d.node.clone(), Message::Dead(d.clone()));
        let node = self.nodes.get_mut(&d.node).expect("node present");
        node.incarnation = d.incarnation;
        node.state = if d.node == d.from { State::Left } else { State::Dead };
        node.state_change = now;
        out.push(Output::Event(Event::Leave(Self::info(node))));
    }

    /// This node's view for a push-pull (memberlist `sendLocalState`).
    pub(super) fn local_nodes(&self) -> Vec<PushNodeState> {
        self.order
            .iter()
            .map(|name| {
                let n = &self.nodes[name];
                PushNodeState {
                    name: n.name.clone(),
                    addr: n.addr,
                    meta: n.meta.clone(),
                    incarnation: n.incarnation,
                    state: n.state,
                }
            })
            .collect()
    }

    /// memberlist `mergeState`: a remote dead is only a suspicion here.
    pub(super) fn merge_state(
        &mut self,
        now: SimTime,
        remote: Vec<PushNodeState>,
        out: &mut Out<D>,
    ) {
        for r in remote {
            match r.state {
                State::Alive => {
                    let a = Alive {
                        incarnation: r.incarnation,
                        node: r.name,
                        addr: r.addr,
                        meta: r.meta,
                    };
                    self.alive_node(now, a, false, out);
                }
                State::Left => {
                    let d = Dead { incarnation: r.incarnation, node: r.name.clone(), from: r.name };
                    self.dead_node(now, d, out);
                }
                State::Dead | State::Suspect => {
                    let from = self.config.name.clone();
                    let s = Suspect { incarnation: r.incarnation, node: r.name, from };
                    self.suspect_node(now, s);
                }
            }
        }
    }

    /// The address this member knows `name` at.
    pub fn addr_of(&self, name: &str) -> Option<SocketAddrV4> {
        self.nodes.get(name).map(|n| n.addr)
    }
}
