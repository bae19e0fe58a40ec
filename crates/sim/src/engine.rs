//! The event loop: pop the earliest event, advance the clock, dispatch.
//!
//! The engine knows nothing about any protocol: packets reaching hosts,
//! timers and idle NICs go to the [`Transport`]; packets reaching switches are
//! routed and queued by the network. Flow arrivals are not all pre-loaded into
//! the queue: one `FlowArrival` event is outstanding at a time, for the next
//! flow in arrival order, which keeps the heap small.

use crate::event::EventKind;
use crate::ids::{FlowId, HostId};
use crate::packet::PacketKind;
use crate::transport::Transport;
use crate::units::Picos;
use crate::world::World;

/// When the loop should stop.
#[derive(Clone, Copy, Debug)]
pub struct StopRule {
    /// Stop at this simulated time even if flows are unfinished.
    pub max_time: Picos,
    /// Interval of the pending-bytes samples.
    pub sample_interval: Picos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The event budget of this call ran out; call again.
    Running,
    /// Every flow finished.
    Done,
    /// No events left although flows are unfinished (a transport gave up), or
    /// max_time was reached.
    Stalled,
}

pub struct Engine<T: Transport> {
    pub world: World,
    pub transport: T,
    pub stop: StopRule,
}

impl<T: Transport> Engine<T> {
    pub fn new(mut world: World, transport: T, stop: StopRule) -> Engine<T> {
        if let Some(f) = world.flows.first() {
            let t = f.start;
            world.events.push(t, EventKind::FlowArrival);
            world.events.push(t, EventKind::Sample);
        }
        Engine {
            world,
            transport,
            stop,
        }
    }

    pub fn finished(&self) -> bool {
        self.world.completed as usize == self.world.flows.len()
    }

    /// Run up to `budget` events.
    pub fn run(&mut self, budget: u64) -> Progress {
        let w = &mut self.world;
        let t = &mut self.transport;
        for _ in 0..budget {
            if w.completed as usize == w.flows.len() {
                return Progress::Done;
            }
            let Some(ev) = w.events.pop() else {
                return Progress::Stalled;
            };
            if ev.time > self.stop.max_time {
                return Progress::Stalled;
            }
            w.now = ev.time;
            // Ask for the next event's memory now, so its cache misses overlap
            // this event's work (see crate::prefetch).
            if let Some(EventKind::LinkArrive(port, pkt)) = w.events.peek_sorted(0) {
                w.net.prefetch_port(port);
                w.packets.prefetch(pkt);
            }
            match ev.kind {
                EventKind::LinkArrive(port, pkt) => {
                    let pt = &mut w.net.ports[port.idx()];
                    let flight = pt
                        .pop_arrival()
                        .expect("a link event without a packet in flight");
                    debug_assert_eq!(flight.pkt, pkt, "the event names the link's head");
                    let node = pt.peer;
                    if let Some(next) = pt.in_flight.front() {
                        let (at, head) = (next.arrive, next.pkt);
                        w.events.push(at, EventKind::LinkArrive(port, head));
                    }
                    if w.net.is_host(node) {
                        let p = w.packets.get(pkt);
                        if p.kind == PacketKind::Data {
                            let payload = (p.wire_bytes - w.net.params.header) as u64;
                            let tenant = w.flows[p.flow.idx()].tenant;
                            w.metrics.note_delivered(tenant, payload);
                        }
                        t.on_packet(w, HostId(node.0), pkt);
                    } else {
                        let draw = if w.net.params.spray {
                            w.rng.next_u64()
                        } else {
                            0
                        };
                        let out = w.net.route(node, &w.packets, pkt, draw);
                        w.enqueue(out, pkt);
                    }
                }
                EventKind::PortFree(port) => {
                    let hosts = w.net.params.hosts;
                    let pt = &mut w.net.ports[port.idx()];
                    pt.wake_pending = false;
                    let node = pt.node;
                    if let Some(pkt) = pt.queue.dequeue(&w.packets) {
                        w.transmit(port, pkt);
                    } else if node.0 < hosts {
                        t.on_nic_idle(w, HostId(node.0));
                    }
                }
                EventKind::Timer(a, b) => t.on_timer(w, a, b),
                EventKind::FlowArrival => {
                    let f = FlowId(w.arrived);
                    w.arrived += 1;
                    w.metrics.arrived_bytes += w.flows[f.idx()].size;
                    if let Some(next) = w.flows.get(w.arrived as usize) {
                        let at = next.start;
                        w.events.push(at, EventKind::FlowArrival);
                    }
                    t.on_flow_arrival(w, f);
                }
                EventKind::Sample => {
                    w.metrics.sample(w.now);
                    if w.events.is_empty() {
                        // Only the sampler is left: nothing can ever finish.
                        return Progress::Stalled;
                    }
                    let at = w.now + self.stop.sample_interval;
                    w.events.push(at, EventKind::Sample);
                }
            }
        }
        if self.finished() {
            Progress::Done
        } else {
            Progress::Running
        }
    }
}
