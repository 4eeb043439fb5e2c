// flow_dump: a copy of some of a worker's flows for the control thread
// (`sgfwctl describe-flows`, explain), without a lock on the worker's
// table.
//
// Shared-nothing stays: only the worker reads its table.  The control
// thread fills in a query and a buffer (allocated by it, never by the
// worker) and raises `requested`; the worker, between bursts, walks a
// bounded slice of its table per loop, copies what matches into the
// buffer and, at the end of the table, says `done`.  A loop's slice is
// k_slots_per_loop slots (a scan of their control words, an entry read
// only where one sits), so a dump of a million-flow table costs a worker
// some microseconds per loop for about seventy loops, never one long
// stall.  Entries move while the walk goes on (Robin Hood insertion and
// erasure shift them by a slot or so): a flow may be copied twice, which
// the reader folds by key, or, rarely, passed over.  A request the control
// thread gave up on (a stuck worker) stays pending; the next one is
// refused until it ends (busy()).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "conntrack/connection_table.hpp"
#include "net/ip_address.hpp"

namespace sgfw::dp {

// Which flows; every given field must match.
struct flow_query {
  bool by_slot = false;
  std::uint16_t slot = 0;  // the resource's (flow_entry::quota_slot)
  bool by_address = false;
  net::ip_address address;  // local or remote
  bool by_port = false;
  std::uint16_t port = 0;  // local or remote (TCP/UDP)
  bool by_proto = false;
  std::uint8_t proto = 0;
  std::uint32_t classes = 0;  // bit per timeout_class (the flow's state); 0: any
};

struct flow_record {
  flow_entry entry;    // as the worker holds it (a copy)
  flow_counts counts;  // zero unless the table counts
  bool counted = false;
  std::uint32_t now_ms = 0;  // the worker's clock when it was copied
};

class flow_dump {
 public:
  static constexpr std::uint32_t k_slots_per_loop = 16384;

  // Control thread.  False when the last request is still pending.
  bool request(const flow_query& q, std::size_t limit) {
    if (state_.load(std::memory_order_acquire) == k_requested) return false;
    query_ = q;
    records_.clear();
    records_.reserve(limit);
    limit_ = limit;
    matched_ = 0;
    cursor_ = 0;
    state_.store(k_requested, std::memory_order_release);
    return true;
  }
  bool done() const { return state_.load(std::memory_order_acquire) == k_done; }
  bool busy() const { return state_.load(std::memory_order_acquire) == k_requested; }
  // After done(): the copies (at most `limit`) and how many matched.
  const std::vector<flow_record>& records() const { return records_; }
  std::uint64_t matched() const { return matched_; }
  // After done(): gives the buffer's memory back.
  void release() {
    if (done()) std::vector<flow_record>().swap(records_);
  }

  // Worker, once per loop.
  bool pending() const { return state_.load(std::memory_order_acquire) == k_requested; }
  void step(const connection_table& t, std::uint32_t now_ms);

 private:
  static constexpr std::uint8_t k_idle = 0, k_requested = 1, k_done = 2;
  std::atomic<std::uint8_t> state_{k_idle};
  flow_query query_;
  std::vector<flow_record> records_;  // reserved by the control thread: the worker never allocates
  std::size_t limit_ = 0;
  std::uint64_t matched_ = 0;
  std::size_t cursor_ = 0;
};

}  // namespace sgfw::dp
