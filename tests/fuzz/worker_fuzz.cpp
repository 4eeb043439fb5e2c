// libFuzzer target: the whole worker path on arbitrary bytes.  An input is
// a sequence of frames, each a header byte (bit 0: which port, bit 1: which
// worker's queue, bits 2-7: milliseconds to let pass, times 1000) and a
// 16-bit length, then the frame.  Two workers over ring ports, so hand-off,
// conntrack, fragments, ageing and the classifier are all on the path.  The
// workers must never crash, every frame must be either sent or counted as
// dropped, and every frame they send must be one the forwarding oracle
// (tests/support/forwarding_oracle.hpp: the reference evaluator's rules and
// a shadow set of the flows forwarded frames carried) says could pass: a
// frame is never forwarded when the rules deny it and no flow allows it.
#include <rte_eal.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "appliance/worker_wiring.hpp"
#include "compiler/compiler.hpp"
#include "config/policy_check.hpp"
#include "forwarding_oracle.hpp"
#include "ring_ports.hpp"
#include "worker/worker.hpp"

namespace {

using namespace sgfw;

constexpr const char* k_policy = R"(
[[prefix_list]]
id = "office"
entries = ["198.51.100.0/24"]
[[security_group]]
id = "web"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = [80, 443]
  cidr = "0.0.0.0/0"
  [[security_group.ingress]]
  protocol = "tcp"
  ports = "1000-2000"
  cidr = "::/0"
  [[security_group.ingress]]
  protocol = "icmp"
  icmp_type = 8
  prefix_list = "office"
  [[security_group.ingress]]
  protocol = "udp"
  ports = 53
  security_group = "web"
[[security_group]]
id = "sealed"
egress = []
[[resource]]
name = "a"
addresses = ["10.0.0.1", "fd00::1"]
security_groups = ["web"]
[[resource]]
name = "b"
addresses = ["10.0.0.2", "fd00::2"]
security_groups = ["web", "sealed"]
[[resource]]
name = "c"
addresses = ["10.0.0.3"]
mac = "02:00:00:00:00:03"
[[resource]]
name = "partner"
addresses = ["192.0.2.50", "2001:db8::50"]
side = "outside"
security_groups = ["web"]
)";

struct harness {
  testing::ring_ports* ports = nullptr;
  dp::manual_clock clock;
  std::unique_ptr<config::policy_model> model;
  std::unique_ptr<testing::forwarding_oracle> oracle;
  std::uint64_t forwarded = 0;
  std::unique_ptr<dp::policy_handle> handle;
  std::unique_ptr<dp::compiled_policy> policy;
  std::vector<rte_ring*> handoff;
  std::vector<std::unique_ptr<dp::worker>> workers;
};

harness* h = nullptr;

// Two workers with empty tables, and an oracle that has seen nothing.
void start_workers() {
  h->workers.clear();
  h->oracle = std::make_unique<testing::forwarding_oracle>(*h->model);
  // Wired as the appliance wires them, with small tables: the full-table
  // paths run too.
  config::boot_settings boot;
  boot.workers = 2;
  boot.max_flows = 2 * 64;
  boot.max_fragmented_datagrams = 2 * 16;
  for (unsigned w = 0; w < 2; ++w) {
    h->workers.push_back(std::make_unique<dp::worker>(cp::worker_wiring(
        boot, w, {h->ports->port[0], h->ports->port[1], 128}, h->handle.get(), h->clock.source(), h->handoff)));
  }
}

std::uint64_t accounted() {
  std::uint64_t n = 0;
  for (const auto& w : h->workers) n += w->counters().tx.load() + w->counters().total_dropped();
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  std::vector<std::string> args{
      (*argv)[0],      "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0", "--log-level=lib.eal:error",
      "--no-telemetry"};
  std::vector<char*> eal;
  for (auto& a : args) eal.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) std::abort();
  h = new harness;
  h->ports = &testing::ring_ports::get();
  auto loaded = config::check_policy(config::load_policy_text(k_policy, "fuzz.toml"));
  if (!loaded.ok()) std::abort();
  h->model = std::make_unique<config::policy_model>(std::move(*loaded.model));
  h->oracle = std::make_unique<testing::forwarding_oracle>(*h->model);
  cp::compile_options options;
  options.generation = 1;
  options.workers = 2;
  options.max_flows = 2 * 64;  // the workers' tables below
  h->policy = std::make_unique<dp::compiled_policy>(cp::compile(*h->model, options));
  h->handle = std::make_unique<dp::policy_handle>(2);
  const dp::compiled_policy* previous = nullptr;
  h->handle->publish(h->policy.get(), previous);
  for (unsigned w = 0; w < 2; ++w) {
    h->handoff.push_back(rte_ring_create(("fuzz_handoff" + std::to_string(w)).c_str(), 1024, 0, RING_F_SC_DEQ));
  }
  start_workers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::uint64_t before = accounted();
  std::uint64_t sent = 0;
  std::size_t off = 0;
  for (unsigned frames = 0; frames < 32 && off + 3 <= size; ++frames) {
    const std::uint8_t header = data[off];
    const std::size_t len = std::min<std::size_t>(std::size_t{data[off + 1]} << 8 | data[off + 2], size - off - 3);
    off += 3;
    h->clock.ms += static_cast<std::uint64_t>(header >> 2) * 1000;
    const unsigned side = header & 1;
    const unsigned queue = (header >> 1) & 1;
    if (len > 0 && testing::inject(h->ports->rx[side][queue], h->ports->pool, data + off, len)) ++sent;
    off += len;
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& w : h->workers) w->poll_once();
  }
  // What left each TX queue, in order; between queues (two ports, two
  // workers) the order is lost, so the frames are checked in any
  // interleaving the oracle can follow that keeps each queue's order: the
  // head of a queue is taken whenever the oracle accepts it (each frame it
  // accepts only adds flows, so taking one never hurts), until every queue
  // is empty or no head is acceptable.
  std::vector<std::deque<std::vector<std::uint8_t>>> queues;
  std::vector<bool> from_inside;
  for (unsigned s = 0; s < 2; ++s) {
    for (unsigned q = 0; q < testing::ring_ports::k_queues; ++q) {
      std::vector<std::vector<std::uint8_t>> out;
      testing::drain(h->ports->tx[s][q], &out);
      queues.emplace_back(std::make_move_iterator(out.begin()), std::make_move_iterator(out.end()));
      from_inside.push_back(s == 0);  // port 0 sends what came in on the inside (port 1), and the reverse
    }
  }
  for (bool progress = true; progress;) {
    progress = false;
    std::string why;
    bool left = false;
    for (std::size_t i = 0; i < queues.size(); ++i) {
      while (!queues[i].empty()) {
        const auto& f = queues[i].front();
        std::string w = h->oracle->forwarded(f.data(), f.size(), from_inside[i]);
        if (!w.empty()) {
          if (why.empty()) why = std::move(w);
          left = true;
          break;
        }
        queues[i].pop_front();
        ++h->forwarded;
        progress = true;
      }
    }
    if (left && !progress) {
      std::fprintf(stderr, "forwarded a frame it must not have: %s\n", why.c_str());
      __builtin_trap();
    }
  }
  // Nothing is lost: every frame was sent on or dropped with a reason.
  if (accounted() - before != sent) __builtin_trap();
  // The oracle's shadow flows never age: start afresh now and then.
  if (h->oracle->size() > 100000) {
    for (rte_ring* r : h->handoff) testing::drain(r, nullptr);
    start_workers();
  }
  return 0;
}
