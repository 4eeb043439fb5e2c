// worker: one poll-mode core's packet path (docs/architecture.md).
//
//   rx burst (outside, inside, hand-off ring)
//     -> parse every frame
//     -> sort out what needs no flow: malformed, ARP/ND, other ethertypes,
//        land and martian sources, broadcast and multicast, traffic of no
//        resource (S9), packets owned by another worker (handed off);
//        later fragments wait for the end of the burst (S10)
//     -> build each side's flow key (the sender's egress, the receiver's
//        ingress: S1), hash and prefetch them all
//     -> look every key up; known flows are checked by the tracker (S5-S7);
//        ICMP errors that quote a known flow, sent back to the quoted
//        packet's sender, pass as related (S6); untracked flows judged
//        under an older policy are judged again (S8); a packet that may not
//        open a flow (a TCP SYN-ACK, FIN, RST or ACK; anything whose source
//        resource sits behind the other port) must find one
//     -> classify all first packets in one classify_burst
//     -> commit each packet all or nothing: insert its new flows (S11:
//        refuse when the table or the resource's share is full, or evict a
//        half-open one), remember an allowed first fragment, undo on
//        failure, then apply it to its known flows
//     -> the burst's later fragments follow their first fragments, which
//        this burst may just have judged (S10: whatever the burst
//        boundaries)
//     -> tx burst to the other port; drop the rest, each with its reason
//   then a slice of ageing, then an RCU quiescent state.
//
// No locks, no allocation, no system call on this path.  Everything the
// worker writes is its own; counters are readable from other threads.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "conntrack/connection_table.hpp"
#include "conntrack/flow_table.hpp"
#include "conntrack/fragment_table.hpp"
#include "net/parsed_packet.hpp"
#include "policy/classifier.hpp"
#include "worker/clock.hpp"
#include "worker/counters.hpp"
#include "worker/flow_dump.hpp"
#include "worker/flow_owner.hpp"
#include "worker/policy_handle.hpp"
#include "worker/rule_counters.hpp"

namespace sgfw::dp {

inline constexpr std::uint16_t k_burst = 32;

struct worker_config {
  std::uint32_t id = 0;           // also the RCU thread id and the TX queue
  std::uint32_t workers = 1;      // flows are spread over this many workers
  std::uint32_t reta_size = 128;  // the ports' RSS redirection table (flow_owner.hpp)
  std::uint16_t outside_port = 0;
  std::uint16_t inside_port = 1;
  std::uint16_t rx_queue = 0;
  std::uint16_t tx_queue = 0;
  std::uint32_t flow_capacity = 1U << 20;  // this worker's share
  bool early_drop = true;
  bool count_flows = false;  // packets and bytes per flow (connection_table.hpp)
  std::uint32_t fragment_slots = 4096;
  std::uint32_t fragment_timeout_ms = 30000;
  // The ageing sweep frees timed-out flows' slots, covering the whole table
  // once per this period, a slice whenever the clock has moved on (a flow
  // past its timeout passes nothing even before the sweep reaches it); 0: no
  // sweep.
  std::uint32_t ageing_period_ms = 1000;
  policy_handle* policy = nullptr;
  clock_source clock;
  // handoff[w]: worker w's inbox (multi-producer, single-consumer); empty
  // with a single worker.
  std::vector<rte_ring*> handoff;
};

class worker {
 public:
  explicit worker(worker_config config);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // One loop: each port's RX queue (unless `ports` is false: stopping), the
  // hand-off inbox, a slice of ageing, a quiescent state.  Returns the
  // packets received, from the ports and the inbox.
  unsigned poll_once(bool ports = true);

  const worker_counters& counters() const { return counters_; }
  const flow_table& flows() const { return conns_.flows(); }
  const connection_table& connections() const { return conns_; }
  // Flow events (created, closed, expired, evicted) go to `l`, on this
  // worker's lcore; set before the worker runs.
  void listen(flow_listener l) { conns_.listen(l); }
  std::uint32_t id() const { return config_.id; }
  // Per resource slot (compiled_policy::resource_slot): flows in this
  // worker's table, and new flows refused for want of room (the cloud's
  // conntrack_allowance_exceeded, per resource).
  std::uint32_t resource_flows(std::uint16_t quota_slot) const { return conns_.resource_flows(quota_slot); }
  // The control thread's window on this worker's flows (any thread).
  flow_dump& dump() { return dump_; }
  std::uint64_t resource_exceeded(std::uint16_t quota_slot) const { return conns_.resource_exceeded(quota_slot); }
  std::uint64_t resource_opened(std::uint16_t quota_slot) const { return conns_.resource_opened(quota_slot); }
  // What each rule admitted on this worker, by global rule index (any
  // thread); last hits in this worker's clock.
  const rule_counters& rule_counts() const { return rule_counts_; }

 private:
  struct side {
    flow_key key;
    std::uint64_t hash = 0;
    std::uint32_t resource = 0;
    bool inbound = false;                     // the packet travels towards this resource
    bool icmp_related = false;                // an ICMP error that may be related: `key` is the quoted flow
    bool classify = false;                    // needs the rules (no flow, or not related)
    bool stateless = false;                   // judged by the rules alone, never starts a flow
    drop_reason missing = drop_reason::none;  // must find a flow by commit, else dropped for this
    std::uint16_t classify_index = 0;
    std::size_t hint = flow_table::k_no_hint;  // from prefetch_entry
    bool known = false;                        // a tracked flow accepts the packet (applied in commit)
    flow_entry* entry = nullptr;               // the flow as last found ...
    std::uint64_t seen = ~std::uint64_t{0};    // ... while flows_.changes() was this

    // Member by member, in place: `*this = side{}` goes through a
    // temporary whose wide copy stalls on store forwarding, every packet.
    void reset(std::uint32_t res, bool towards_resource, net::family fam, std::uint8_t proto) {
      key.local = 0;
      key.remote = 0;
      key.local_port = 0;
      key.remote_port = 0;
      key.proto = proto;
      key.fam = fam;
      hash = 0;
      resource = res;
      inbound = towards_resource;
      icmp_related = false;
      classify = false;
      stateless = false;
      missing = drop_reason::none;
      classify_index = 0;
      hint = flow_table::k_no_hint;
      known = false;
      entry = nullptr;
      seen = ~std::uint64_t{0};
    }
  };
  struct slot {
    rte_mbuf* mbuf = nullptr;
    parsed_packet packet;
    std::uint16_t in_port = 0;
    drop_reason drop = drop_reason::none;
    bool done = false;        // forwarded or dropped without a flow
    bool deferred = false;    // a later fragment: judged after the burst's first fragments
    bool wrong_side = false;  // the source is a resource behind the other port (S1)
    bool via_quote = false;   // an ICMP error of no resource's addresses, related only through its quote
    std::uint8_t sides = 0;
    std::array<side, 2> side_of;
  };

  static constexpr std::uint16_t k_from_handoff = 0xFFFF;  // instead of a port: the hand-off inbox
  void process(rte_mbuf** mbufs, std::uint16_t n, std::uint16_t in_port);
  void sort_out(slot& s, const compiled_policy& policy);
  void make_sides(slot& s, const compiled_policy& policy, std::uint32_t src_res, std::uint32_t dst_res);
  void make_error_side(const slot& s, const compiled_policy& policy, side& sd, std::uint32_t src_res);
  void classify_side(side& sd, const parsed_packet& p, const compiled_policy& policy);
  flow_entry* live_flow(side& sd);
  flow_entry* entry_of(side& sd);
  flow_entry* insert_flow(const slot& s, const side& sd, const compiled_policy& policy, drop_reason& why);
  void follow_fragment(slot& s);
  void look_up(slot& s, const compiled_policy& policy);
  bool still_allowed(flow_entry& e, const side& sd, const compiled_policy& policy);
  static classify_key judge_key(const flow_entry& e, const side& sd, direction dir, bool opening);
  void commit(slot& s, const compiled_policy& policy);
  void forward(slot& s);
  void drop(slot& s, drop_reason why);
  void flush();
  void age();

  worker_config config_;
  flow_owner owner_;
  connection_table conns_;
  fragment_table fragments_;
  worker_counters counters_;
  flow_dump dump_;
  rule_counters rule_counts_;
  std::uint32_t now_ = 0;
  std::uint64_t now_ms_ = 0;   // now_, not wrapped (the rules' last hits)
  std::uint32_t aged_at_ = 0;  // now_ when the sweep last ran

  // Scratch for one burst.
  std::array<slot, k_burst> slots_;
  std::array<classify_key, 2 * k_burst> classify_keys_;
  std::array<decision, 2 * k_burst> decisions_;
  std::uint16_t classify_count_ = 0;
  std::array<std::array<rte_mbuf*, k_burst>, 2> tx_;  // [0] to outside, [1] to inside
  std::array<std::uint16_t, 2> tx_count_{};

  // What this loop counted, published to counters_ once per loop.
  counter_tally tally_;
  bool deferred_ = false;  // the burst has later fragments
};

}  // namespace sgfw::dp
