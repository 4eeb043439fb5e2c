// control_api: the control socket's requests (docs/operations.md), one at a
// time on the control thread.  A request is a JSON object with an
// "Action" (the EC2 API's names: AuthorizeSecurityGroupIngress,
// DescribeSecurityGroups, ...); the reply is a JSON object, with "Error"
// ({Code, Message, Field}) when refused.
//
// Every change goes the way a reload goes: the verb edits a copy of the
// running policy's document (policy_document.hpp), the TOML reader reads
// the whole of it (the same checks, quotas and codes as a file; the
// messages name the request's fields), the store compiles it off the
// workers, the file is rewritten atomically (persist), and only then is
// the policy published (RCU pointer swap) and the reply sent: a
// connection attempted after the reply is judged by the new rules.  A
// request with any error changes nothing: policy, generation, file.
// "DryRun": true stops after compiling and says what would change.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "appliance/policy_store.hpp"
#include "control/file_persist.hpp"
#include "control/flow_view.hpp"
#include "control/policy_document.hpp"
#include "control/request_rules.hpp"
#include "worker/rule_counters.hpp"

namespace sgfw::cp {

struct control_settings {
  std::string policy_file;  // the policy's file: read by reload, written by changes
  bool persist = true;      // accepted changes rewrite the file
  // A reload's note about what the file says that cannot change while
  // running (the run settings), if anything.
  std::function<std::optional<std::string>(const config::checked_policy&)> boot_note;
  // Told of each change the API published (the daemon prints it).
  std::function<void(const std::string&)> log;
  // Tests only: runs between publishing a change and putting its file in
  // place (to make that step fail).
  std::function<void()> before_commit;
};

// Stable codes of the API's own (the model's are config::code).
namespace api_code {
inline constexpr const char* invalid_action = "InvalidAction";
inline constexpr const char* invalid_request = "InvalidRequest";  // not JSON, not an object
inline constexpr const char* request_too_large = "RequestTooLarge";
inline constexpr const char* permission_not_found = "InvalidPermission.NotFound";
inline constexpr const char* rule_id_not_found = "InvalidSecurityGroupRuleId.NotFound";
inline constexpr const char* resource_not_found = "InvalidResource.NotFound";
inline constexpr const char* dependency_violation = "DependencyViolation";
inline constexpr const char* cannot_delete = "CannotDelete";
inline constexpr const char* file_changed = "PolicyFile.ChangedSinceLoad";
inline constexpr const char* file_write_failed = "PolicyFile.WriteFailed";
inline constexpr const char* access_denied = "AccessDenied";
inline constexpr const char* throttling = "Throttling";
}  // namespace api_code

// A rule a request put into the document, and where: the reader's key path
// (security_group[2].ingress[5]) and the model's (security_group[web].ingress[5]).
struct placed_rule {
  request_rule rule;
  std::string file_path;
  std::string model_path;
};

class control_api {
 public:
  using json = nlohmann::json;
  // What describe-stats shows besides the policy: the appliance's counters.
  using stats_fn = std::function<json()>;

  // `first_text` is the running policy's text, as read (checked_policy::text).
  control_api(policy_store& store, control_settings settings, const std::string& first_text);

  json handle(const json& request);
  // One request line as it came from the socket: parsed, handled, replied.
  std::string handle_line(std::string_view line);

  void set_stats(stats_fn f) { stats_ = std::move(f); }
  // Where describe-flows and explain find the workers' flows.
  void set_flows(flows_fn f) { flows_ = std::move(f); }
  // What a rule admitted, by its global index (rule_stats::read: last hit
  // in milliseconds since 1970): describe-security-group-rules shows it.
  using rule_counts_fn = std::function<dp::rule_totals(std::uint32_t index)>;
  void set_rule_counts(rule_counts_fn f) { rule_counts_ = std::move(f); }

  // Re-reads the file (SIGHUP, watch, the Reload verb): published unless
  // it has errors.  A change seen by the watch whose text is what runs
  // (the API's own write) is no change, and is left alone.
  apply_result reload(bool from_watch, bool* unchanged = nullptr);

  // The running document's text (what the file holds when persisting).
  const std::string& running_text() const;
  // Frees what the last change replaced (its document, the store's old
  // model): the server calls it once the reply is sent, so that the
  // caller does not wait for it.  A change also does it first.
  void tidy();

  static json error_reply(const char* code, const std::string& message, const std::string& field = "");

 public:
  // An edit of the document; an error reply refuses the request.
  using edit_fn = std::function<std::optional<json>(policy_document&, std::vector<placed_rule>&)>;

 private:
  json change(const json& request, const edit_fn& edit);
  // `reuse`: the published change's model and what it was read from.
  json undo_change(const std::string& why, const config::group_reuse& reuse, bool& undone);
  std::optional<json> check_file_unchanged();

  json describe_security_groups(const json& r);
  json describe_security_group_rules(const json& r);
  json describe_resources(const json& r);
  json describe_prefix_lists(const json& r);
  json prefix_list_entries(const json& r);
  json describe_stats(const json& r);
  json create_security_group(const json& r);
  json delete_security_group(const json& r);
  json authorize(const json& r, direction d);
  json revoke(const json& r, direction d);
  json create_resource(const json& r);
  json delete_resource(const json& r);
  json modify_resource(const json& r);
  json create_prefix_list(const json& r);
  json modify_prefix_list(const json& r);
  json delete_prefix_list(const json& r);
  json reload_verb(const json& r);
  json save_verb(const json& r);
  json explain_verb(const json& r);
  json describe_flows(const json& r);
  void add_flows_to(json& explained, const json& request);

  policy_store& store_;
  control_settings settings_;
  policy_document doc_;
  // doc_'s text as last read or written (what the file holds); none when
  // a change without persistence left it to be made when asked for.
  mutable std::optional<std::string> text_;
  std::vector<policy_document> old_docs_;  // freed by tidy()
  // The group tables and the root the running model was read from
  // (doc_'s), and its generation: a change reads only the groups it edited
  // (config::group_reuse).  None after a reload (read from the file's text).
  std::vector<const toml::table*> reuse_tables_;
  const toml::table* reuse_root_ = nullptr;
  std::uint64_t reuse_generation_ = ~std::uint64_t{0};
  stats_fn stats_;
  flows_fn flows_;
  rule_counts_fn rule_counts_;
};

}  // namespace sgfw::cp
