// Loading, compiling and publishing policies while the workers run (the
// RCU shape of conventions.md): compile off the worker cores, publish with
// one pointer swap, free the old policy after the grace period.
//
// Control thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compiler/resource_slots.hpp"
#include "config/model.hpp"
#include "policy/compiled_policy.hpp"
#include "worker/policy_handle.hpp"

namespace sgfw::cp {

struct reload_result {
  bool published = false;
  std::uint64_t generation = 0;     // the one running afterwards
  std::vector<std::string> errors;  // file:line:column messages, when not published
  std::vector<std::string> notes;   // warnings, and run settings a reload cannot change
  double compile_ms = 0;
};

class policy_publisher {
 public:
  explicit policy_publisher(std::string path) : path_(std::move(path)) {}
  ~policy_publisher();

  // Reads and checks the file; the first time, before the workers exist.
  // False (with messages) when the file has errors.
  bool load_first(std::vector<std::string>& errors, std::vector<std::string>& notes);
  const config::policy_model& model() const { return *model_; }

  // Publishes the first policy (workers registered on `handle`).  The
  // per-resource flow limits are per worker of `workers`, within a table
  // of `max_flows`; `in_use` tells whether a worker still counts flows
  // under a resource slot (resource_slots.hpp).
  void start(dp::policy_handle& handle, std::uint32_t workers, std::uint32_t max_flows,
             resource_slots::in_use_fn in_use);

  // Reads the file again; publishes the new policy unless it has errors,
  // in which case the running one stays, untouched.
  reload_result reload();

  // Frees retired policies every worker has stopped reading.
  void reclaim();
  std::uint64_t generation() const { return generation_; }
  const dp::compiled_policy& current() const { return *current_; }
  std::size_t retired() const { return retired_.size(); }
  const std::string& path() const { return path_; }

 private:
  std::unique_ptr<dp::compiled_policy> compile_next(const config::policy_model& model, std::uint64_t generation);

  std::string path_;
  dp::policy_handle* handle_ = nullptr;
  std::uint32_t workers_ = 1;
  std::uint32_t max_flows_ = 0;
  resource_slots slots_;
  resource_slots::in_use_fn in_use_;
  std::unique_ptr<config::policy_model> model_;
  config::appliance_settings started_;  // what the appliance started with
  std::unique_ptr<dp::compiled_policy> current_;
  std::vector<std::pair<std::uint64_t, std::unique_ptr<dp::compiled_policy>>> retired_;  // token, policy
  std::uint64_t generation_ = 0;
};

}  // namespace sgfw::cp
