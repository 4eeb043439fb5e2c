#include "worker/worker.hpp"

#include <rte_ethdev.h>

#include <algorithm>

#include "conntrack/tracker.hpp"
#include "net/packet_parser.hpp"
#include "worker/flow_owner.hpp"

namespace sgfw::dp {

namespace {

// Protocols whose flows are told apart by ports: TCP, UDP, and ICMP
// queries (by identifier).  Every other protocol is tracked by address
// pair alone (S5).
bool has_ports(const parsed_packet& p) { return p.proto == ip_proto::tcp || p.proto == ip_proto::udp || p.icmp_query; }

const flow_timeouts& timeouts_of(const compiled_policy& p, std::uint32_t resource) {
  return p.resource_timeouts[std::min<std::size_t>(resource, p.resource_count())];
}

}  // namespace

worker::worker(worker_config config)
    : config_(std::move(config)),
      owner_(config_.workers, config_.reta_size),
      flows_(config_.flow_capacity),
      fragments_(config_.fragment_slots),
      aged_at_(static_cast<std::uint32_t>(config_.clock.now_ms())) {
  config_.policy->register_worker(config_.id);
}

worker::~worker() { config_.policy->unregister_worker(config_.id); }

unsigned worker::poll_once(bool ports) {
  now_ = static_cast<std::uint32_t>(config_.clock.now_ms());
  std::array<rte_mbuf*, k_burst> burst;
  unsigned received = 0;
  for (const std::uint16_t port : {config_.outside_port, config_.inside_port}) {
    if (!ports) break;
    const std::uint16_t n = rte_eth_rx_burst(port, config_.rx_queue, burst.data(), k_burst);
    received += n;
    rx_ += n;
    if (n != 0) process(burst.data(), n, port);
  }
  if (!config_.handoff.empty()) {
    const unsigned n =
        rte_ring_dequeue_burst(config_.handoff[config_.id], reinterpret_cast<void**>(burst.data()), k_burst, nullptr);
    received_ += n;
    received += n;
    if (n != 0) process(burst.data(), static_cast<std::uint16_t>(n), k_from_handoff);
  }
  age();

  bump(counters_.rx, rx_);
  bump(counters_.tx, tx_done_);
  bump(counters_.flows_created, created_);
  bump(counters_.flows_expired, expired_);
  bump(counters_.flows_early_dropped, early_dropped_);
  bump(counters_.related, related_);
  bump(counters_.handed_off, handed_off_);
  bump(counters_.received_from_others, received_);
  for (std::size_t r = 0; r < drop_reason_count; ++r) bump(counters_.drops[r], drops_[r]);
  counters_.flows.store(flows_.size(), std::memory_order_relaxed);
  rx_ = tx_done_ = created_ = expired_ = early_dropped_ = related_ = handed_off_ = received_ = 0;
  drops_.fill(0);

  config_.policy->quiescent(config_.id);
  return received;
}

void worker::process(rte_mbuf** mbufs, std::uint16_t n, std::uint16_t in_port) {
  const bool from_handoff = in_port == k_from_handoff;
  // One load of the policy for the whole burst (RCU read side).
  const compiled_policy* policy = config_.policy->current();
  classify_count_ = 0;
  constexpr std::uint16_t k_ahead = 4;  // packets whose headers are loading while one is parsed
  for (std::uint16_t i = 0; i < n && i < k_ahead; ++i) rte_prefetch0(rte_pktmbuf_mtod(mbufs[i], const void*));
  for (std::uint16_t i = 0; i < n; ++i) {
    if (i + k_ahead < n) rte_prefetch0(rte_pktmbuf_mtod(mbufs[i + k_ahead], const void*));
    slot& s = slots_[i];
    s.mbuf = mbufs[i];
    // The port travels with the mbuf when it is handed to another worker.
    if (!from_handoff) s.mbuf->port = in_port;
    s.in_port = s.mbuf->port;
    s.drop = drop_reason::none;
    s.done = false;
    s.sides = 0;
    parse_frame(rte_pktmbuf_mtod(s.mbuf, const std::uint8_t*), s.mbuf->data_len, s.packet);
  }
  if (policy == nullptr) {
    for (std::uint16_t i = 0; i < n; ++i) drop(slots_[i], drop_reason::policy_denied);  // nothing allowed yet
    flush();
    return;
  }
  // Sorted out in a pass of its own: reading a packet's parsed fields right
  // after parse_frame wrote them stalls on store forwarding (wide loads of
  // narrower stores); a burst later they are in the cache.
  for (std::uint16_t i = 0; i < n; ++i) {
    slot& s = slots_[i];
    if (!from_handoff && config_.workers > 1 && s.packet.kind == frame_kind::ip) {
      const parsed_packet& p = s.packet;
      const std::uint32_t owner = p.icmp_error ? owner_(p.fam, p.quote.src, p.quote.dst) : owner_(p.fam, p.src, p.dst);
      if (owner != config_.id) {
        if (rte_ring_enqueue(config_.handoff[owner], s.mbuf) == 0) {
          ++handed_off_;
          s.done = true;
        } else {
          drop(s, drop_reason::handoff_full);
        }
        continue;
      }
    }
    sort_out(s, *policy);
  }

  // The flow lookups in three passes, so that the burst's cache misses
  // overlap (flow_table.hpp): every key was hashed and its control words
  // started loading as its packet was sorted out; now start loading the
  // entries, then look them up.
  for (std::uint16_t i = 0; i < n; ++i) {
    slot& s = slots_[i];
    if (s.done) continue;
    for (std::uint8_t k = 0; k < s.sides; ++k) s.side_of[k].hint = flows_.prefetch_entry(s.side_of[k].hash);
  }
  for (std::uint16_t i = 0; i < n; ++i) {
    if (!slots_[i].done) look_up(slots_[i], *policy);
  }
  if (classify_count_ != 0) classify_burst(*policy, classify_keys_.data(), decisions_.data(), classify_count_);
  for (std::uint16_t i = 0; i < n; ++i) {
    if (!slots_[i].done) commit(slots_[i], *policy);
  }
  flush();
}

// Everything that needs no flow lookup is decided here.
void worker::sort_out(slot& s, const compiled_policy& policy) {
  const parsed_packet& p = s.packet;
  switch (p.kind) {
    case frame_kind::malformed:
      return drop(s, p.malformed);
    case frame_kind::arp:
      return policy.arp_nd_pass ? forward(s) : drop(s, drop_reason::arp_nd);
    case frame_kind::non_ip:
      return policy.unprotected_forward ? forward(s) : drop(s, drop_reason::unprotected);
    case frame_kind::ip:
      break;
  }
  if (p.neighbour_discovery) return policy.arp_nd_pass ? forward(s) : drop(s, drop_reason::arp_nd);
  const std::uint32_t src_res = policy.resources.find(p.source());
  const std::uint32_t dst_res = policy.resources.find(p.destination());
  if (src_res == k_no_resource && dst_res == k_no_resource) {
    return policy.unprotected_forward ? forward(s) : drop(s, drop_reason::unprotected);
  }
  if (p.fragment && p.fragment_offset != 0) {
    switch (fragments_.lookup(p, now_)) {
      case fragment_table::follow::allow:
        return forward(s);
      case fragment_table::follow::deny:
        return drop(s, drop_reason::fragment_denied);
      case fragment_table::follow::orphan:
        return drop(s, drop_reason::fragment_orphan);
      case fragment_table::follow::overlap:
        return drop(s, drop_reason::fragment_overlap);
    }
  }
  make_sides(s, policy, src_res, dst_res);
}

// One side per protected resource the packet touches (S1): the sender's
// egress and the receiver's ingress, each with the flow as that resource
// sees it (its own address local).
void worker::make_sides(slot& s, const compiled_policy& policy, std::uint32_t src_res, std::uint32_t dst_res) {
  (void)policy;
  const parsed_packet& p = s.packet;
  const bool ports = has_ports(p);
  for (const bool inbound : {false, true}) {
    const std::uint32_t res = inbound ? dst_res : src_res;
    if (res == k_no_resource) continue;
    side& sd = s.side_of[s.sides++];
    sd.reset(res, inbound, p.fam, p.icmp_error ? p.quote.proto : p.proto);
    if (p.icmp_error) {
      // The quoted packet is the resource's own (an error coming in) or one
      // it received (an error it sends): either way its flow, seen from the
      // resource, has the quoted source local when the error comes in.
      const quoted_packet& q = p.quote;
      sd.icmp_related = true;
      sd.key.local = inbound ? q.src : q.dst;
      sd.key.remote = inbound ? q.dst : q.src;
      const bool quote_ports = q.proto == ip_proto::tcp || q.proto == ip_proto::udp ||
                               (q.proto == p.proto && p.quote_has_ports);  // a quoted echo
      if (quote_ports) {
        sd.key.local_port = inbound ? q.src_port : q.dst_port;
        sd.key.remote_port = inbound ? q.dst_port : q.src_port;
      }
      // A TCP/UDP quote too short for its ports names no flow.
      if ((q.proto == ip_proto::tcp || q.proto == ip_proto::udp) && !p.quote_has_ports) sd.classify = true;
      continue;
    }
    sd.key.local = inbound ? p.dst : p.src;
    sd.key.remote = inbound ? p.src : p.dst;
    if (ports) {
      sd.key.local_port = inbound ? p.dst_port : p.src_port;
      sd.key.remote_port = inbound ? p.src_port : p.dst_port;
    }
  }
  for (std::uint8_t k = 0; k < s.sides; ++k) {
    side& sd = s.side_of[k];
    sd.hash = flows_.hash(sd.key);
    flows_.prefetch_control(sd.hash);
  }
}

// A side's flow, unless it has timed out: ageing sweeps the table a slice
// per loop, so an idle flow may still be there a little after its timeout,
// but it never passes another packet.
flow_entry* worker::live_flow(side& sd) {
  flow_entry* e = flows_.find(sd.key, sd.hash, sd.hint);
  if (e != nullptr && expired(*e, now_)) {
    flows_.erase(e);
    ++expired_;
    e = nullptr;
  }
  sd.entry = e;
  sd.seen = flows_.changes();
  return e;
}

// The side's flow: the entry found last while the table has not changed
// since (the common case: a burst of known flows inserts nothing), else
// found again.
flow_entry* worker::entry_of(side& sd) {
  if (sd.seen != flows_.changes()) {
    sd.entry = flows_.find(sd.key, sd.hash, sd.hint);
    sd.seen = flows_.changes();
  }
  return sd.entry;
}

void worker::look_up(slot& s, const compiled_policy& policy) {
  const parsed_packet& p = s.packet;
  for (std::uint8_t k = 0; k < s.sides; ++k) {
    side& sd = s.side_of[k];
    const direction dir = sd.inbound ? direction::ingress : direction::egress;
    if (sd.icmp_related) {
      // S6: an error quoting a tracked flow passes as related; otherwise the
      // error is judged by the rules like any ICMP message.
      const flow_entry* e = sd.classify ? nullptr : live_flow(sd);
      if (e != nullptr && policy.icmp_errors_related) {
        ++related_;
        continue;
      }
      sd.classify = true;
      sd.classify_index = classify_count_++;
      classify_keys_[sd.classify_index] = classify_key::make(
          {sd.resource, dir, sd.inbound ? p.source() : p.destination(), p.proto, 0, 0, p.icmp_type, p.icmp_code});
      continue;
    }
    flow_entry* e = live_flow(sd);
    if (e != nullptr && (e->flags & flow_flag::untracked) != 0 &&
        e->generation != static_cast<std::uint32_t>(policy.generation)) {
      // S8: the cloud judges untracked flows by the rules on every packet,
      // so a policy change applies to them at once.
      decision d;
      if (!rejudge(*e, sd, policy, d)) {
        flows_.erase(e);
        s.drop = drop_reason::untracked_cut;
        continue;
      }
      e->generation = static_cast<std::uint32_t>(policy.generation);
      e->rule = d.rule;
      e->flags =
          static_cast<std::uint8_t>(d.untracked ? e->flags | flow_flag::untracked : e->flags & ~flow_flag::untracked);
    }
    if (e != nullptr) {
      // Checked now, applied in commit once every side has accepted.
      const track_verdict v = check(*e, p, sd.inbound);
      if (v == track_verdict::accept) {
        sd.known = true;
        continue;
      }
      if (v == track_verdict::invalid) {
        s.drop = drop_reason::tcp_invalid;
        continue;
      }
      flows_.erase(e);  // restart: a new connection on a closed flow's ports
    }
    sd.classify = true;
    sd.classify_index = classify_count_++;
    classify_keys_[sd.classify_index] = classify_key::make({sd.resource,
                                                            dir,
                                                            {p.fam, sd.key.remote},
                                                            p.proto,
                                                            sd.key.local_port,
                                                            sd.key.remote_port,
                                                            p.icmp_type,
                                                            p.icmp_code});
  }
}

// An untracked flow under a new policy: both its directions must still be
// allowed by the rules (the cloud judges each packet of it).
bool worker::rejudge(const flow_entry& e, const side& sd, const compiled_policy& policy, decision& out) const {
  const bool inbound_first = (e.flags & flow_flag::initiated_inbound) != 0;
  const direction first = inbound_first ? direction::ingress : direction::egress;
  const net::ip_address remote{sd.key.fam, sd.key.remote};
  out = classify(policy, classify_key::make(
                             {sd.resource, first, remote, sd.key.proto, sd.key.local_port, sd.key.remote_port, 0, 0}));
  const decision back = classify(policy, classify_key::make({sd.resource, opposite(first), remote, sd.key.proto,
                                                             sd.key.local_port, sd.key.remote_port, 0, 0}));
  return out.allowed() && back.allowed();
}

// The packet's verdict, applied all or nothing: it passes only if every
// side allows it, and only a packet that passes changes any flow (a
// dropped packet leaves no entry behind, nor any state change).
void worker::commit(slot& s, const compiled_policy& policy) {
  const parsed_packet& p = s.packet;
  if (s.drop != drop_reason::none) return drop(s, s.drop);
  const bool first_fragment = p.fragment && p.fragment_offset == 0;
  for (std::uint8_t k = 0; k < s.sides; ++k) {
    const side& sd = s.side_of[k];
    if (sd.classify && !decisions_[sd.classify_index].allowed()) {
      if (first_fragment) {
        fragments_.remember(p, fragment_table::verdict::deny, now_, config_.fragment_timeout_ms);
      }
      return drop(s, drop_reason::policy_denied);
    }
  }
  // ICMP errors never start a flow, nor does a lone RST.
  const bool starts_flow = !p.icmp_error && !(p.proto == ip_proto::tcp && (p.tcp_flags & tcp_flag::rst) != 0);
  for (std::uint8_t k = 0; k < s.sides; ++k) {
    side& sd = s.side_of[k];
    // A flow an earlier packet of this burst started is this packet's flow.
    if (sd.classify && starts_flow && entry_of(sd) != nullptr) sd.known = true;
    // Earlier packets of this burst may have moved a known flow on (a RST,
    // FINs): judge this packet against the flow as it is now.
    if (sd.known) {
      const flow_entry* e = entry_of(sd);
      if (e != nullptr && check(*e, p, sd.inbound) != track_verdict::accept) return drop(s, drop_reason::tcp_invalid);
    }
  }
  // Create the flows the packet starts, then remember a first fragment's
  // verdict; if either fails, undo what this packet created.
  std::array<bool, 2> created{};
  drop_reason failed = drop_reason::none;
  for (std::uint8_t k = 0; k < s.sides && starts_flow; ++k) {
    const side& sd = s.side_of[k];
    if (!sd.classify || sd.known) continue;
    flow_entry* e = insert_flow(s, sd);
    if (e == nullptr) {
      failed = drop_reason::conntrack_full;
      break;
    }
    const decision& d = decisions_[sd.classify_index];
    track_first(*e, p, sd.inbound, now_, timeouts_of(policy, sd.resource));
    e->rule = d.rule;
    e->generation = static_cast<std::uint32_t>(policy.generation);
    if (d.untracked) e->flags |= flow_flag::untracked;
    created[k] = true;
  }
  if (failed == drop_reason::none && first_fragment &&
      !fragments_.remember(p, fragment_table::verdict::allow, now_, config_.fragment_timeout_ms)) {
    failed = drop_reason::fragment_table_full;
  }
  if (failed != drop_reason::none) {
    for (std::uint8_t k = 0; k < s.sides; ++k) {
      if (!created[k]) continue;
      if (flow_entry* e = flows_.find(s.side_of[k].key, s.side_of[k].hash)) flows_.erase(e);
    }
    return drop(s, failed);
  }
  for (std::uint8_t k = 0; k < s.sides; ++k) {
    side& sd = s.side_of[k];
    if (created[k]) ++created_;
    if (!sd.known) continue;
    if (flow_entry* e = entry_of(sd)) {
      track(*e, p, sd.inbound, now_, timeouts_of(policy, sd.resource));
    }
  }
  forward(s);
}

// A new flow's entry.  With early drop (S11) a full table makes room by
// evicting the half-open flow nearest its timeout around the key's home,
// never one of this packet's own flows.
flow_entry* worker::insert_flow(const slot& s, const side& sd) {
  flow_entry* e = flows_.insert(sd.key, sd.hash);
  if (e != nullptr || !config_.early_drop) return e;
  flow_entry* victim = flows_.nearby(sd.hash, 32, [&s](const flow_entry& c, const flow_entry* best) {
    if (!half_open(c)) return false;
    for (std::uint8_t k = 0; k < s.sides; ++k) {
      if (c.matches(s.side_of[k].key)) return false;
    }
    return best == nullptr || static_cast<std::int32_t>(c.expires_at - best->expires_at) < 0;
  });
  if (victim == nullptr) return nullptr;
  flows_.erase(victim);
  ++early_dropped_;
  return flows_.insert(sd.key, sd.hash);
}

void worker::forward(slot& s) {
  s.done = true;
  const std::size_t out = s.in_port == config_.outside_port ? 1 : 0;
  tx_[out][tx_count_[out]++] = s.mbuf;
}

void worker::drop(slot& s, drop_reason why) {
  s.done = true;
  ++drops_[static_cast<std::size_t>(why)];
  rte_pktmbuf_free(s.mbuf);
}

void worker::flush() {
  for (std::size_t out = 0; out < 2; ++out) {
    const std::uint16_t n = tx_count_[out];
    if (n == 0) continue;
    const std::uint16_t port = out == 0 ? config_.outside_port : config_.inside_port;
    const std::uint16_t sent = rte_eth_tx_burst(port, config_.tx_queue, tx_[out].data(), n);
    tx_done_ += sent;
    for (std::uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(tx_[out][i]);
    drops_[static_cast<std::size_t>(drop_reason::tx_failed)] += n - sent;
    tx_count_[out] = 0;
  }
}

void worker::age() {
  // Once per millisecond, not per loop: a slice proportional to the time
  // gone by keeps the cost per second fixed, however fast the loop spins.
  const std::uint32_t elapsed = now_ - aged_at_;
  if (elapsed == 0 || config_.ageing_period_ms == 0) return;
  aged_at_ = now_;
  const std::uint64_t slots = flows_.slot_count();
  const std::uint64_t period = config_.ageing_period_ms;
  // At most a sixteenth of the table per call: after a stall (a clock
  // jump, a descheduled core) the sweep catches up over several loops
  // instead of stopping the worker for one long one.
  const auto budget =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(slots / 16 + 1, (slots * elapsed + period - 1) / period));
  expired_ += flows_.age(budget, [this](const flow_entry& e) { return expired(e, now_); });
  constexpr std::uint32_t k_fragment_slots_per_loop = 32;
  fragments_.age(now_, k_fragment_slots_per_loop);
}

}  // namespace sgfw::dp
