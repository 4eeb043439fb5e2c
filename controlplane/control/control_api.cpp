#include "control/control_api.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "config/address_text.hpp"
#include "config/policy_check.hpp"
#include "config/rule_reader.hpp"
#include "config/rule_text.hpp"
#include "config/toml_loader.hpp"
#include "config/validation.hpp"
#include "control/cloud_shapes.hpp"
#include "control/explain.hpp"
#include "control/file_persist.hpp"

namespace sgfw::cp {

using json = nlohmann::json;
namespace code = config::code;

namespace {

constexpr const char* k_source = "control request";

std::string dir_key(direction d) { return d == direction::ingress ? "ingress" : "egress"; }

// A required string field.
std::optional<json> need_string(const json& r, const char* field, std::string& out) {
  const auto it = r.find(field);
  if (it == r.end() || it->is_null()) {
    return control_api::error_reply(code::missing_parameter, std::string("missing required field ") + field, field);
  }
  if (!it->is_string()) {
    return control_api::error_reply(code::invalid_parameter_value, "expected a string, found " + it->dump(), field);
  }
  out = it->get<std::string>();
  return std::nullopt;
}

// An optional array of strings.
std::optional<json> string_list(const json& r, const char* field, std::vector<std::string>& out, bool& given) {
  given = false;
  const auto it = r.find(field);
  if (it == r.end() || it->is_null()) return std::nullopt;
  given = true;
  if (!it->is_array()) {
    return control_api::error_reply(code::invalid_parameter_value, "expected an array of strings", field);
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) {
      return control_api::error_reply(code::invalid_parameter_value, "expected a string",
                                      std::string(field) + "[" + std::to_string(i) + "]");
    }
    out.push_back((*it)[i].get<std::string>());
  }
  return std::nullopt;
}

toml::array toml_strings(const std::vector<std::string>& v) {
  toml::array a;
  for (const auto& x : v) a.push_back(x);
  return a;
}

// An optional string field copied into `t` under `key`.
std::optional<json> copy_string(const json& r, const char* field, toml::table& t, const char* key) {
  if (!r.contains(field)) return std::nullopt;
  std::string v;
  if (auto e = need_string(r, field, v)) return e;
  t.insert_or_assign(key, v);
  return std::nullopt;
}

// An optional integer field.
std::optional<json> optional_int(const json& r, const char* field, std::optional<std::int64_t>& out) {
  const auto it = r.find(field);
  if (it == r.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) {
    return control_api::error_reply(code::invalid_parameter_value, "expected an integer, found " + it->dump(), field);
  }
  out = it->get<std::int64_t>();
  return std::nullopt;
}

// DependencyViolation when a rule of any group (but `skip`) names the
// group or prefix list `index` as its peer (`Ref`: group_ref or
// prefix_list_ref); nothing when none does.
template <typename Ref>
std::optional<json> refused_if_referenced(const config::policy_model& m, std::uint32_t index, const char* what,
                                          const char* field, std::optional<std::uint32_t> skip = std::nullopt) {
  for (std::uint32_t g = 0; g < m.groups.size(); ++g) {
    if (skip && *skip == g) continue;
    for (const auto* rules : {&m.groups[g].ingress, &m.groups[g].egress}) {
      for (const auto& rule : *rules) {
        if (const auto* ref = std::get_if<Ref>(&rule.remote); ref && ref->index == index) {
          return control_api::error_reply(
              api_code::dependency_violation,
              "rule " + rule.id + " of group '" + m.groups[g].id + "' references the " + what, field);
        }
      }
    }
  }
  return std::nullopt;
}

// An edit that removes the document's `kind` table with that `key`.
control_api::edit_fn remove_table(std::string kind, std::string key, std::string value, const char* not_found,
                                  std::string what, std::string field) {
  return [=](policy_document& d, std::vector<placed_rule>&) -> std::optional<json> {
    std::size_t index = 0;
    if (d.find(kind, key, value, &index) == nullptr) {
      return control_api::error_reply(not_found, "no " + what + " '" + value + "'", field);
    }
    toml::array& list = d.tables(kind);
    list.erase(list.begin() + static_cast<std::ptrdiff_t>(index));
    return std::nullopt;
  };
}

// Where a request's table sits in the document (`kind`[index], which the
// model calls `kind`[name]), and which request field each key came from:
// the reader's findings about it then name the request's fields.
placed_rule placed_table(const std::string& kind, std::size_t index, const std::string& name,
                         std::map<std::string, std::string> fields, std::string whole = "") {
  placed_rule p;
  p.rule.keys = std::move(fields);
  p.rule.field = std::move(whole);
  p.file_path = kind + "[" + std::to_string(index) + "]";
  p.model_path = kind + "[" + name + "]";
  return p;
}

const std::map<std::string, std::string> k_resource_fields{{"name", "Name"},
                                                           {"addresses", "Addresses"},
                                                           {"security_groups", "Groups"},
                                                           {"side", "Side"},
                                                           {"description", "Description"},
                                                           {"mac", "MacAddress"},
                                                           {"max_flows", "MaxFlows"},
                                                           {"mode", "Mode"},
                                                           {"established_flows", "EstablishedFlows"}};
const std::map<std::string, std::string> k_prefix_list_fields{{"id", "PrefixListId"},
                                                              {"entries", "Entries"},
                                                              {"address_family", "AddressFamily"},
                                                              {"max_entries", "MaxEntries"},
                                                              {"description", "Description"}};

// An edit that adds `t` to the document's `kind` tables unless one with the
// same `key` is there already.
control_api::edit_fn add_table(std::string kind, std::string key, std::string value, const char* duplicate,
                               std::string what, std::string field, toml::table t,
                               std::map<std::string, std::string> fields) {
  return [=](policy_document& d, std::vector<placed_rule>& placed) -> std::optional<json> {
    if (d.find(kind, key, value) != nullptr) {
      return control_api::error_reply(duplicate, "the " + what + " '" + value + "' already exists", field);
    }
    placed.push_back(placed_table(kind, d.tables(kind).size(), value, fields));
    d.tables(kind).push_back(t);
    return std::nullopt;
  };
}

std::optional<json> known_fields(const json& r, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : r.items()) {
    if (k == "Action" || k == "DryRun" || k == "RequestId") continue;
    if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    return control_api::error_reply(code::unknown_parameter,
                                    "unknown field for this action" + (list.empty() ? "" : "; expected: " + list), k);
  }
  return std::nullopt;
}

// Calls matched(x, y) for each item y of `ys` with the item x of `xs` that
// has its name (nullptr: none), then left(x) for each x no item of `ys`
// names.  By position when both name the same in the same order (most
// changes), else by name.
template <class T, class Name, class Matched, class Left>
void pair_by_name(const std::vector<T>& xs, const std::vector<T>& ys, Name name_of, Matched matched, Left left) {
  if (std::equal(xs.begin(), xs.end(), ys.begin(), ys.end(),
                 [&](const T& x, const T& y) { return name_of(x) == name_of(y); })) {
    for (std::size_t i = 0; i < ys.size(); ++i) matched(&xs[i], ys[i]);
    return;
  }
  std::map<std::string_view, const T*> by_name;
  for (const T& x : xs) by_name.emplace(name_of(x), &x);
  for (const T& y : ys) {
    const auto it = by_name.find(name_of(y));
    matched(it == by_name.end() ? nullptr : it->second, y);
    if (it != by_name.end()) by_name.erase(it);
  }
  for (const auto& [name, x] : by_name) left(*x);
}

// out[added]: what `after` has and `before` has not; out[removed]: the other way.
template <class Set, class ToJson>
void added_and_removed(json& out, const char* added, const char* removed, const Set& before, const Set& after,
                       ToJson to_json) {
  json add = json::array();
  json del = json::array();
  for (const auto& k : after) {
    if (!before.count(k)) add.push_back(to_json(k));
  }
  for (const auto& k : before) {
    if (!after.count(k)) del.push_back(to_json(k));
  }
  if (!add.empty()) out[added] = std::move(add);
  if (!del.empty()) out[removed] = std::move(del);
}

// What changed between two models, by the names users know.
json changes_between(const config::policy_model& a, const config::policy_model& b) {
  const auto group_id = [](const config::security_group& g) -> std::string_view { return g.id; };
  const auto resource_name = [](const config::resource& r) -> std::string_view { return r.name; };
  const auto list_id = [](const config::prefix_list& p) -> std::string_view { return p.id; };
  json out = json::object();
  // Rules by (group, rule id), compared only in the groups whose rules
  // differ: a change touches one or two groups of thousands.
  using rule_key = std::pair<std::string, std::string>;
  std::set<rule_key> rules_a, rules_b;
  const auto keys_of = [](const config::security_group& g, std::set<rule_key>& into) {
    for (const auto* rules : {&g.ingress, &g.egress}) {
      for (const auto& r : *rules) into.emplace(g.id, r.id);
    }
  };
  const auto same_ids = [](const config::shared_list<config::rule>& p, const config::shared_list<config::rule>& q) {
    return p.same_as(q) || std::equal(p.begin(), p.end(), q.begin(), q.end(),
                                      [](const config::rule& l, const config::rule& r) { return l.id == r.id; });
  };
  pair_by_name(
      a.groups, b.groups, group_id,
      [&](const config::security_group* was, const config::security_group& now) {
        if (was != nullptr && same_ids(was->ingress, now.ingress) && same_ids(was->egress, now.egress)) return;
        if (was != nullptr) keys_of(*was, rules_a);
        keys_of(now, rules_b);
      },
      [&](const config::security_group& was) { keys_of(was, rules_a); });
  added_and_removed(out, "RulesAdded", "RulesRemoved", rules_a, rules_b, [](const rule_key& k) {
    return json{{"GroupId", k.first}, {"SecurityGroupRuleId", k.second}};
  });
  // Names added and removed; nothing to sort when both name the same in
  // the same order (most changes).
  const auto names = [&](const char* added, const char* removed, const auto& xs, const auto& ys, auto name_of) {
    if (std::equal(xs.begin(), xs.end(), ys.begin(), ys.end(),
                   [&](const auto& x, const auto& y) { return name_of(x) == name_of(y); })) {
      return;
    }
    std::set<std::string_view> sa, sb;
    for (const auto& x : xs) sa.insert(name_of(x));
    for (const auto& y : ys) sb.insert(name_of(y));
    added_and_removed(out, added, removed, sa, sb, [](std::string_view n) { return json(n); });
  };
  names("GroupsAdded", "GroupsRemoved", a.groups, b.groups, group_id);
  names("ResourcesAdded", "ResourcesRemoved", a.resources, b.resources, resource_name);
  names("PrefixListsAdded", "PrefixListsRemoved", a.prefix_lists, b.prefix_lists, list_id);
  json changed = json::array();
  pair_by_name(
      a.resources, b.resources, resource_name,
      [&](const config::resource* ra, const config::resource& rb) {
        if (ra == nullptr) return;
        const bool same_groups =
            std::equal(ra->groups.begin(), ra->groups.end(), rb.groups.begin(), rb.groups.end(),
                       [&](std::uint32_t x, std::uint32_t y) { return a.groups[x].id == b.groups[y].id; });
        if (!same_groups || ra->addresses != rb.addresses || ra->side != rb.side) changed.push_back(rb.name);
      },
      [](const config::resource&) {});
  if (!changed.empty()) out["ResourcesModified"] = std::move(changed);
  json lists = json::array();
  pair_by_name(
      a.prefix_lists, b.prefix_lists, list_id,
      [&](const config::prefix_list* pa, const config::prefix_list& pb) {
        if (pa != nullptr && (pa->entries != pb.entries || pa->max_entries != pb.max_entries)) lists.push_back(pb.id);
      },
      [](const config::prefix_list&) {});
  if (!lists.empty()) out["PrefixListsModified"] = std::move(lists);
  return out;
}

// The reader's findings as the reply's errors, each naming the request
// field it is about where the request put that part in.
json refusal(const std::vector<config::diagnostic>& findings, const std::vector<placed_rule>& placed,
             std::uint64_t generation) {
  json errors = json::array();
  for (const auto& d : findings) {
    if (d.level != config::diagnostic::severity::error) continue;
    std::string field = d.key;
    for (const placed_rule& p : placed) {
      for (const std::string* path : {&p.file_path, &p.model_path}) {
        if (!path->empty() && d.key.rfind(*path, 0) == 0 &&
            (d.key.size() == path->size() || d.key[path->size()] == '.' || d.key[path->size()] == '[')) {
          field = request_field(p.rule, *path, d.key);
        }
      }
    }
    json e{{"Code", d.code != nullptr && *d.code != '\0' ? d.code : code::invalid_parameter_value},
           {"Message", d.message}};
    if (!field.empty()) e["Field"] = field;
    if (!d.key.empty()) e["Path"] = d.key;  // where in the policy, as the model names it
    errors.push_back(std::move(e));
  }
  if (errors.empty()) errors.push_back({{"Code", code::invalid_parameter_value}, {"Message", "refused"}});
  json out{{"Error", errors[0]}, {"Errors", errors}, {"PolicyGeneration", generation}};
  return out;
}

}  // namespace

json control_api::error_reply(const char* c, const std::string& message, const std::string& field) {
  json e{{"Code", c}, {"Message", message}};
  if (!field.empty()) e["Field"] = field;
  return json{{"Error", e}};
}

control_api::control_api(policy_store& store, control_settings settings, const std::string& first_text)
    : store_(store), settings_(std::move(settings)), text_(first_text) {
  std::string error;
  auto d = policy_document::parse(first_text, error);
  // The text was read as a policy already; it is TOML.
  if (d) doc_ = std::move(*d);
}

const std::string& control_api::running_text() const {
  if (!text_) text_ = doc_.text();
  return *text_;
}

void control_api::tidy() {
  old_docs_.clear();
  store_.tidy();
}

namespace {

// How deep the line's arrays and objects nest (outside strings).  Copying
// or printing a JSON value recurses, so a request nested a hundred
// thousand deep would take the daemon's stack: such a line is refused
// before it is parsed.
std::size_t nesting(std::string_view line) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char ch : line) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

constexpr std::size_t k_max_nesting = 16;
constexpr std::size_t k_max_request_id = 128;

}  // namespace

std::string control_api::handle_line(std::string_view line) {
  json reply;
  json request;
  if (nesting(line) > k_max_nesting) {
    reply = error_reply(api_code::invalid_request,
                        "the request nests deeper than " + std::to_string(k_max_nesting) + " levels");
    return reply.dump() + "\n";
  }
  request = json::parse(line, nullptr, false);
  if (request.is_discarded()) {
    reply = error_reply(api_code::invalid_request, "the request is not JSON (one object per line)");
  } else if (!request.is_object()) {
    reply = error_reply(api_code::invalid_request, "expected a JSON object with an \"Action\"");
  } else {
    try {
      reply = handle(request);
    } catch (const std::exception& e) {
      // A request must never take the daemon down; the policy is untouched
      // (changes publish last).
      reply = error_reply(api_code::invalid_request, std::string("the request could not be handled: ") + e.what());
    }
    // Echoed for matching replies to requests: a short string or a number.
    if (const auto id = request.find("RequestId"); id != request.end()) {
      if (id->is_number() || (id->is_string() && id->get_ref<const std::string&>().size() <= k_max_request_id)) {
        reply["RequestId"] = *id;
      }
    }
  }
  return reply.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

json control_api::handle(const json& r) {
  const auto a = r.find("Action");
  if (a == r.end() || !a->is_string()) return error_reply(code::missing_parameter, "missing \"Action\"", "Action");
  if (const auto d = r.find("DryRun"); d != r.end() && !d->is_boolean()) {
    return error_reply(code::invalid_parameter_value, "expected true or false", "DryRun");
  }
  const std::string action = a->get<std::string>();
  if (action == "DescribeSecurityGroups") return describe_security_groups(r);
  if (action == "DescribeSecurityGroupRules") return describe_security_group_rules(r);
  if (action == "DescribeResources") return describe_resources(r);
  if (action == "DescribeManagedPrefixLists") return describe_prefix_lists(r);
  if (action == "GetManagedPrefixListEntries") return prefix_list_entries(r);
  if (action == "DescribeStats") return describe_stats(r);
  if (action == "CreateSecurityGroup") return create_security_group(r);
  if (action == "DeleteSecurityGroup") return delete_security_group(r);
  if (action == "AuthorizeSecurityGroupIngress") return authorize(r, direction::ingress);
  if (action == "AuthorizeSecurityGroupEgress") return authorize(r, direction::egress);
  if (action == "RevokeSecurityGroupIngress") return revoke(r, direction::ingress);
  if (action == "RevokeSecurityGroupEgress") return revoke(r, direction::egress);
  if (action == "CreateResource") return create_resource(r);
  if (action == "DeleteResource") return delete_resource(r);
  if (action == "ModifyResourceAttribute") return modify_resource(r);
  if (action == "CreateManagedPrefixList") return create_prefix_list(r);
  if (action == "ModifyManagedPrefixList") return modify_prefix_list(r);
  if (action == "DeleteManagedPrefixList") return delete_prefix_list(r);
  if (action == "Reload") return reload_verb(r);
  if (action == "Save") return save_verb(r);
  if (action == "Explain") return explain_verb(r);
  if (action == "DescribeFlows") return describe_flows(r);
  return error_reply(api_code::invalid_action, "unknown action '" + action + "' (docs/operations.md lists them)",
                     "Action");
}

// --- changes -----------------------------------------------------------------

std::optional<json> control_api::check_file_unchanged() {
  // Read every time: a file's stamp (inode, size, times) misses an edit
  // in place within one clock tick, or on NFS behind the attribute cache.
  if (file_holds(settings_.policy_file, running_text())) return std::nullopt;
  return error_reply(api_code::file_changed,
                     settings_.policy_file +
                         " is not what sgfw last read or wrote (edited by hand?); nothing was changed. Run "
                         "`sgfwctl reload` to take the file's policy, or `sgfwctl save --force` to write the "
                         "running one over it");
}

json control_api::change(const json& request, const edit_fn& edit) {
  const bool dry = request.value("DryRun", false);
  // S8: a change's own choice for established flows, over each resource's.
  std::optional<config::established_flows_mode> established;
  if (const auto it = request.find("EstablishedFlows"); it != request.end()) {
    if (!it->is_string() || (*it != "keep" && *it != "revalidate")) {
      return error_reply(code::invalid_parameter_value, "expected \"keep\" or \"revalidate\"", "EstablishedFlows");
    }
    established =
        *it == "revalidate" ? config::established_flows_mode::revalidate : config::established_flows_mode::keep;
  }
  if (settings_.persist && !dry) {
    if (auto e = check_file_unchanged()) return *e;
  }
  tidy();  // what the last change left, if the server has not freed it
  policy_document next = doc_;
  std::vector<placed_rule> placed;
  if (auto e = edit(next, placed)) {
    (*e)["PolicyGeneration"] = store_.generation();
    return *e;
  }
  // The edited document as the file's reader reads it (without parsing
  // the text again: the same tables).  The groups it did not edit are
  // taken from the running policy, when that is what was read from their
  // tables (nothing else published since).
  const std::vector<const toml::table*> read = next.group_tables();
  config::group_reuse reuse;
  if (reuse_generation_ == store_.generation()) reuse = {&store_.model(), reuse_tables_, reuse_root_};
  config::checked_policy checked =
      config::check_policy(config::load_policy_document(next.root(), read, settings_.policy_file, reuse));
  if (!checked.ok()) return refusal(checked.findings, placed, store_.generation());
  prepared_policy prepared = store_.prepare(std::move(checked), established);
  if (!prepared.ok()) return refusal(prepared.findings, placed, store_.generation());
  json changes = changes_between(store_.model(), *prepared.model);
  json out{{"Changes", changes}, {"CompileMs", prepared.compile_ms}};
  if (dry) {
    out["DryRun"] = true;
    out["PolicyGeneration"] = store_.generation();
    return out;
  }
  // The file's room is taken before the policy is published, and the text
  // is written and put in place after: what a disk refuses (full,
  // read-only, no permission) refuses the change before anything runs,
  // and the new rules do not wait for the write and the flush to disk
  // (docs/operations.md, "Persistence").
  staged_file staged;
  if (settings_.persist) {
    if (const std::string why = stage_file(settings_.policy_file, next.text_size(), staged); !why.empty()) {
      json e = error_reply(api_code::file_write_failed,
                           settings_.policy_file + ": " + why +
                               "; nothing was changed (set [appliance.control] persist = false for a read-only file)");
      e["PolicyGeneration"] = store_.generation();
      return e;
    }
  }
  const apply_result applied = store_.publish(std::move(prepared), k_source);
  if (!applied.published) {
    json e =
        error_reply(code::invalid_parameter_value, applied.errors.empty() ? "not published" : applied.errors.front());
    e["PolicyGeneration"] = store_.generation();
    return e;
  }
  // The text is made only to be written, after the publish (without
  // persistence it is made when asked for, running_text()).
  std::string text;
  // What runs is this document from here on (unless undone below).
  const auto adopt = [&] {
    // The old document is freed after the reply (tidy()): at 10k rules
    // that is milliseconds.
    old_docs_.push_back(std::move(doc_));
    doc_ = std::move(next);
    reuse_tables_ = read;  // doc_'s, which the running model was read from
    reuse_root_ = &doc_.root();
    reuse_generation_ = applied.generation;
    // Kept when it was made (not when making it failed, nor without
    // persistence): otherwise it is made again when asked for.
    if (settings_.persist && !text.empty()) {
      text_ = std::move(text);
    } else {
      text_.reset();
    }
  };
  if (settings_.persist) {
    std::string why;
    try {
      text = next.text();
      if (settings_.before_commit) settings_.before_commit();
      why = staged.commit(text);
    } catch (const std::exception& e) {
      why = std::string("cannot put the file in place: ") + e.what();
    }
    if (!why.empty()) {
      bool undone = false;
      json e = undo_change(why, {&store_.model(), read, &next.root()}, undone);
      // Not undone: the change runs, so the document is the change's (the
      // file then differs from it, and the next change asks for a save or
      // a reload, PolicyFile.ChangedSinceLoad).
      if (!undone) adopt();
      return e;
    }
  }
  adopt();
  // The reply waits for every worker to have moved to the new policy: a
  // packet the caller sends once it has the reply meets the new rules.
  if (!store_.wait_readers(std::chrono::milliseconds(500))) {
    out["Notes"] = json::array({"a worker has not yet taken the new policy (it is not polling)"});
  }
  out["Return"] = true;
  out["PolicyGeneration"] = applied.generation;
  if (settings_.log) {
    settings_.log("control: " + request.value("Action", std::string()) + ": policy generation " +
                  std::to_string(applied.generation) + " " + changes.dump());
  }
  return out;
}

// The file could not be put in place after the change was published (an
// I/O error flushing or renaming): the document's policy, still what the
// file says, is published again, and every resource's flows are judged
// again by it (S8), so that nothing the refused change let in stays.
json control_api::undo_change(const std::string& why, const config::group_reuse& reuse, bool& undone) {
  const std::vector<const toml::table*> read = doc_.group_tables();
  std::string note;
  apply_result applied;
  try {
    config::checked_policy checked =
        config::check_policy(config::load_policy_document(doc_.root(), read, settings_.policy_file, reuse));
    prepared_policy prepared = store_.prepare(std::move(checked), config::established_flows_mode::revalidate);
    applied = store_.publish(std::move(prepared), k_source);
  } catch (const std::exception& e) {
    applied.published = false;
  }
  undone = applied.published;
  if (applied.published) {
    reuse_tables_ = read;
    reuse_root_ = &doc_.root();
    reuse_generation_ = applied.generation;
    note = "; the change was undone: the previous policy runs again (its flows judged again)";
  } else {
    // Only out of memory: said rather than hidden.
    note = "; the change could not be undone and runs, but the file has the previous policy (save or reload)";
  }
  if (!store_.wait_readers(std::chrono::milliseconds(500))) note += " (a worker has not yet taken it)";
  if (settings_.log) settings_.log("control: " + settings_.policy_file + ": " + why + note);
  json e = error_reply(api_code::file_write_failed, settings_.policy_file + ": " + why + note);
  e["PolicyGeneration"] = store_.generation();
  return e;
}

json control_api::create_security_group(const json& r) {
  if (auto e = known_fields(r, {"GroupId", "GroupName", "Description"})) return *e;
  std::string id;
  if (r.contains("GroupName") && !r.contains("GroupId")) {
    if (auto e = need_string(r, "GroupName", id)) return *e;
  } else if (auto e = need_string(r, "GroupId", id)) {
    return *e;
  }
  std::string description;
  if (r.contains("Description")) {
    if (auto e = need_string(r, "Description", description)) return *e;
  }
  return change(r, [&](policy_document& d, std::vector<placed_rule>&) -> std::optional<json> {
    if (d.find_group(id) || (id == config::k_default_group_id && store_.model().find_group(id))) {
      return error_reply(code::group_duplicate, "the security group '" + id + "' already exists", "GroupId");
    }
    // No egress key: the cloud's default egress, all traffic out (S4).
    toml::table g{{"id", id}};
    if (!description.empty()) g.insert("description", description);
    d.add_group(std::move(g));
    return std::nullopt;
  });
}

json control_api::delete_security_group(const json& r) {
  if (auto e = known_fields(r, {"GroupId"})) return *e;
  std::string id;
  if (auto e = need_string(r, "GroupId", id)) return *e;
  const config::policy_model& m = store_.model();
  const auto g = m.find_group(id);
  if (!g) return error_reply(code::group_not_found, "no security group '" + id + "'", "GroupId");
  if (id == config::k_default_group_id) {
    return error_reply(api_code::cannot_delete, "the default group cannot be deleted (S4)", "GroupId");
  }
  for (const auto& res : m.resources) {
    if (std::find(res.groups.begin(), res.groups.end(), *g) != res.groups.end()) {
      return error_reply(api_code::dependency_violation,
                         "resource '" + res.name + "' uses the group; take it off first (modify-resource-attribute)",
                         "GroupId");
    }
  }
  if (auto e = refused_if_referenced<config::group_ref>(m, *g, "group", "GroupId", *g)) return *e;
  return change(r, [id](policy_document& d, std::vector<placed_rule>&) -> std::optional<json> {
    const auto index = d.find_group(id);
    if (!index) return error_reply(code::group_not_found, "no security group '" + id + "'", "GroupId");
    d.erase_group(*index);
    return std::nullopt;
  });
}

namespace {

// The group's table in the document, the implicit default written in when
// it is the one asked for; nullptr (and the error) when there is no such group.
toml::table* group_table(policy_document& d, const config::policy_model& m, const std::string& id, std::size_t& index,
                         json& error) {
  if (const auto found = d.find_group(id)) {
    index = *found;
    return &d.edit_group(index);
  }
  if (id == config::k_default_group_id && m.find_group(id)) {
    index = d.materialise_default_group();
    return &d.edit_group(index);
  }
  error = control_api::error_reply(code::group_not_found, "no security group '" + id + "'", "GroupId");
  return nullptr;
}

}  // namespace

json control_api::authorize(const json& r, direction dir) {
  if (auto e = known_fields(r, {"GroupId", "IpPermissions", "Protocol", "Port", "Cidr", "SourceGroup", "PrefixListId",
                                "IcmpType", "IcmpCode", "Description", "RuleId"})) {
    return *e;
  }
  std::string id;
  if (auto e = need_string(r, "GroupId", id)) return *e;
  auto rules = rules_of_request(r);
  if (auto* e = std::get_if<request_error>(&rules)) return error_reply(e->code, e->message, e->field);
  return change(r, [&](policy_document& d, std::vector<placed_rule>& placed) -> std::optional<json> {
    std::size_t gi = 0;
    json error;
    toml::table* g = group_table(d, store_.model(), id, gi, error);
    if (g == nullptr) return error;
    toml::array& list = d.rules(*g, dir);
    for (request_rule& rr : std::get<std::vector<request_rule>>(rules)) {
      const std::size_t ri = list.size();
      list.push_back(rr.table);
      const std::string suffix = "." + dir_key(dir) + "[" + std::to_string(ri) + "]";
      placed.push_back({std::move(rr), "security_group[" + std::to_string(gi) + "]" + suffix,
                        "security_group[" + id + "]" + suffix});
    }
    return std::nullopt;
  });
}

json control_api::revoke(const json& r, direction dir) {
  if (auto e =
          known_fields(r, {"GroupId", "IpPermissions", "SecurityGroupRuleIds", "Protocol", "Port", "Cidr",
                           "SourceGroup", "PrefixListId", "IcmpType", "IcmpCode", "Description", "EstablishedFlows"})) {
    return *e;
  }
  std::string id;
  if (auto e = need_string(r, "GroupId", id)) return *e;
  const config::policy_model& m = store_.model();
  const auto g = m.find_group(id);
  if (!g) return error_reply(code::group_not_found, "no security group '" + id + "'", "GroupId");
  const auto& rules = m.groups[*g].rules(dir);
  std::set<std::size_t> doomed;  // indices into the group's rules of `dir`
  std::vector<std::string> ids;
  bool by_id = false;
  if (auto e = string_list(r, "SecurityGroupRuleIds", ids, by_id)) return *e;
  if (by_id) {
    if (r.contains("IpPermissions") || r.contains("Protocol")) {
      return error_reply(code::invalid_parameter_combination,
                         "give SecurityGroupRuleIds or the permissions to revoke, not both", "SecurityGroupRuleIds");
    }
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const auto it = std::find_if(rules.begin(), rules.end(), [&](const config::rule& x) { return x.id == ids[k]; });
      if (it == rules.end()) {
        return error_reply(api_code::rule_id_not_found,
                           "the group '" + id + "' has no " + dir_key(dir) + " rule '" + ids[k] + "'",
                           "SecurityGroupRuleIds[" + std::to_string(k) + "]");
      }
      doomed.insert(static_cast<std::size_t>(it - rules.begin()));
    }
  } else {
    auto wanted = rules_of_request(r);
    if (auto* e = std::get_if<request_error>(&wanted)) return error_reply(e->code, e->message, e->field);
    // Each permission is read as a rule would be (the reader's checks), and
    // matches the group's rule of the same content (the content id).
    config::policy_model scratch = m;
    config::toml_reader in(k_source);
    config::rule_reader reader(in, scratch);
    for (const request_rule& rr : std::get<std::vector<request_rule>>(wanted)) {
      const std::optional<config::rule> rule = reader.load_rule(rr.table, "rule", dir);
      const auto diags = in.take_diagnostics();
      if (!rule || config::has_errors(diags)) {
        for (const auto& d : diags) {
          if (d.level == config::diagnostic::severity::error) {
            return error_reply(d.code, d.message, request_field(rr, "rule", d.key));
          }
        }
        return error_reply(code::invalid_parameter_value, "not a rule", rr.field);
      }
      const std::string content = config::derive_rule_id(scratch, id, *rule);
      std::optional<std::size_t> found;
      for (std::size_t i = 0; i < rules.size(); ++i) {
        if (config::derive_rule_id(m, id, rules[i]) == content) found = i;
      }
      if (!found) {
        return error_reply(api_code::permission_not_found,
                           "the group '" + id + "' has no " + dir_key(dir) + " rule " +
                               config::describe_protocol(rule->protocol) + " " + config::describe_ports(*rule) + " " +
                               config::describe_peer(scratch, rule->remote),
                           rr.field.empty() ? "Protocol" : rr.field);
      }
      doomed.insert(*found);
    }
  }
  return change(r, [&](policy_document& d, std::vector<placed_rule>&) -> std::optional<json> {
    std::size_t gi = 0;
    json error;
    toml::table* t = group_table(d, store_.model(), id, gi, error);
    if (t == nullptr) return error;
    toml::array& list = d.rules(*t, dir);
    for (auto it = doomed.rbegin(); it != doomed.rend(); ++it) {
      if (*it < list.size()) list.erase(list.begin() + static_cast<std::ptrdiff_t>(*it));
    }
    return std::nullopt;
  });
}

json control_api::create_resource(const json& r) {
  if (auto e = known_fields(r, {"Name", "Addresses", "Groups", "Side", "Description", "MacAddress", "MaxFlows", "Mode",
                                "EstablishedFlows"})) {
    return *e;
  }
  std::string name;
  if (auto e = need_string(r, "Name", name)) return *e;
  std::vector<std::string> addresses, groups;
  bool has_addresses = false, has_groups = false;
  if (auto e = string_list(r, "Addresses", addresses, has_addresses)) return *e;
  if (!has_addresses) return error_reply(code::missing_parameter, "a resource needs addresses", "Addresses");
  if (auto e = string_list(r, "Groups", groups, has_groups)) return *e;
  toml::table t{{"name", name}, {"addresses", toml_strings(addresses)}};
  if (has_groups) t.insert("security_groups", toml_strings(groups));
  for (const auto& [field, key] : {std::pair{"Side", "side"}, std::pair{"Description", "description"},
                                   std::pair{"MacAddress", "mac"}, std::pair{"Mode", "mode"}}) {
    if (auto e = copy_string(r, field, t, key)) return *e;
  }
  std::optional<std::int64_t> max_flows;
  if (auto e = optional_int(r, "MaxFlows", max_flows)) return *e;
  if (max_flows) t.insert("max_flows", *max_flows);
  // On a new resource (no flows yet) EstablishedFlows is its own setting.
  json request = r;
  if (auto e = copy_string(r, "EstablishedFlows", t, "established_flows")) return *e;
  request.erase("EstablishedFlows");
  return change(request, add_table("resource", "name", name, code::resource_duplicate, "resource", "Name", std::move(t),
                                   k_resource_fields));
}

json control_api::delete_resource(const json& r) {
  if (auto e = known_fields(r, {"Name"})) return *e;
  std::string name;
  if (auto e = need_string(r, "Name", name)) return *e;
  const edit_fn remove = remove_table("resource", "name", name, api_code::resource_not_found, "resource", "Name");
  return change(r, [&](policy_document& d, std::vector<placed_rule>& placed) -> std::optional<json> {
    if (auto e = remove(d, placed)) return e;
    // No resource left is a policy that says so, not an empty file.
    if (d.tables("resource").empty()) d.edit_root().insert_or_assign("resource", toml::array{});
    return std::nullopt;
  });
}

json control_api::modify_resource(const json& r) {
  if (auto e = known_fields(r, {"Name", "Groups", "Addresses", "Description", "Mode", "EstablishedFlows"})) return *e;
  std::string name;
  if (auto e = need_string(r, "Name", name)) return *e;
  std::vector<std::string> addresses, groups;
  bool has_addresses = false, has_groups = false;
  if (auto e = string_list(r, "Addresses", addresses, has_addresses)) return *e;
  if (auto e = string_list(r, "Groups", groups, has_groups)) return *e;
  std::string description;
  const bool has_description = r.contains("Description");
  if (has_description) {
    if (auto e = need_string(r, "Description", description)) return *e;
  }
  std::string mode;
  const bool has_mode = r.contains("Mode");
  if (has_mode) {
    if (auto e = need_string(r, "Mode", mode)) return *e;
  }
  if (!has_addresses && !has_groups && !has_description && !has_mode) {
    return error_reply(code::missing_parameter, "nothing to modify: give Groups, Addresses, Mode or Description",
                       "Groups");
  }
  return change(r, [&](policy_document& d, std::vector<placed_rule>& placed) -> std::optional<json> {
    std::size_t index = 0;
    toml::table* t = d.find("resource", "name", name, &index);
    if (t == nullptr) return error_reply(api_code::resource_not_found, "no resource '" + name + "'", "Name");
    placed.push_back(placed_table("resource", index, name, k_resource_fields));
    if (has_groups) t->insert_or_assign("security_groups", toml_strings(groups));
    if (has_addresses) t->insert_or_assign("addresses", toml_strings(addresses));
    if (has_description) t->insert_or_assign("description", description);
    if (has_mode) t->insert_or_assign("mode", mode);
    return std::nullopt;
  });
}

namespace {

// [{Cidr, Description}] as prefix-list entries.
std::optional<json> entries_of(const json& r, const char* field, toml::array& out, bool with_description) {
  const auto it = r.find(field);
  if (it == r.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return control_api::error_reply(code::invalid_parameter_value, "expected an array", field);
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& e = (*it)[i];
    const std::string f = std::string(field) + "[" + std::to_string(i) + "]";
    if (!e.is_object() || !e.contains("Cidr") || !e["Cidr"].is_string()) {
      return control_api::error_reply(code::invalid_parameter_value, "expected {\"Cidr\": \"...\"}", f + ".Cidr");
    }
    if (with_description && e.contains("Description") && e["Description"].is_string()) {
      out.push_back(
          toml::table{{"cidr", e["Cidr"].get<std::string>()}, {"description", e["Description"].get<std::string>()}});
    } else {
      out.push_back(e["Cidr"].get<std::string>());
    }
  }
  return std::nullopt;
}

std::string entry_cidr(const toml::node& n) {
  if (const auto* s = n.as_string()) return s->get();
  if (const auto* t = n.as_table()) return (*t)["cidr"].value_or(std::string());
  return {};
}

}  // namespace

json control_api::create_prefix_list(const json& r) {
  if (auto e = known_fields(
          r, {"PrefixListId", "PrefixListName", "AddressFamily", "MaxEntries", "Entries", "Description"})) {
    return *e;
  }
  std::string id;
  if (r.contains("PrefixListName") && !r.contains("PrefixListId")) {
    if (auto e = need_string(r, "PrefixListName", id)) return *e;
  } else if (auto e = need_string(r, "PrefixListId", id)) {
    return *e;
  }
  toml::table t{{"id", id}};
  toml::array entries;
  if (auto e = entries_of(r, "Entries", entries, true)) return *e;
  t.insert("entries", std::move(entries));
  if (auto e = copy_string(r, "AddressFamily", t, "address_family")) return *e;
  if (auto e = copy_string(r, "Description", t, "description")) return *e;
  std::optional<std::int64_t> max;
  if (auto e = optional_int(r, "MaxEntries", max)) return *e;
  if (max) t.insert("max_entries", *max);
  return change(r, add_table("prefix_list", "id", id, code::prefix_list_duplicate, "prefix list", "PrefixListId",
                             std::move(t), k_prefix_list_fields));
}

json control_api::modify_prefix_list(const json& r) {
  if (auto e = known_fields(r, {"PrefixListId", "AddEntries", "RemoveEntries", "MaxEntries"})) return *e;
  std::string id;
  if (auto e = need_string(r, "PrefixListId", id)) return *e;
  toml::array add, remove;
  if (auto e = entries_of(r, "AddEntries", add, true)) return *e;
  if (auto e = entries_of(r, "RemoveEntries", remove, false)) return *e;
  std::optional<std::int64_t> max;
  if (auto e = optional_int(r, "MaxEntries", max)) return *e;
  return change(r, [&](policy_document& d, std::vector<placed_rule>& placed) -> std::optional<json> {
    std::size_t index = 0;
    toml::table* t = d.find("prefix_list", "id", id, &index);
    if (t == nullptr) {
      return error_reply(code::prefix_list_not_found, "no prefix list '" + id + "'", "PrefixListId");
    }
    // An entry the list refuses is one of those added.
    placed.push_back(placed_table("prefix_list", index, id, {{"max_entries", "MaxEntries"}}, "AddEntries"));
    if (!(*t)["entries"].as_array()) t->insert_or_assign("entries", toml::array{});
    toml::array& entries = *(*t)["entries"].as_array();
    for (std::size_t i = 0; i < remove.size(); ++i) {
      const std::string cidr = entry_cidr(*remove.get(i));
      const auto it =
          std::find_if(entries.begin(), entries.end(), [&](const toml::node& n) { return entry_cidr(n) == cidr; });
      if (it == entries.end()) {
        return error_reply("InvalidPrefixListModification", "the prefix list '" + id + "' has no entry '" + cidr + "'",
                           "RemoveEntries[" + std::to_string(i) + "].Cidr");
      }
      entries.erase(it);
    }
    for (auto&& e : add) entries.push_back(e);
    if (max) t->insert_or_assign("max_entries", *max);
    return std::nullopt;
  });
}

json control_api::delete_prefix_list(const json& r) {
  if (auto e = known_fields(r, {"PrefixListId"})) return *e;
  std::string id;
  if (auto e = need_string(r, "PrefixListId", id)) return *e;
  const config::policy_model& m = store_.model();
  const auto pl = m.find_prefix_list(id);
  if (!pl) return error_reply(code::prefix_list_not_found, "no prefix list '" + id + "'", "PrefixListId");
  if (auto e = refused_if_referenced<config::prefix_list_ref>(m, *pl, "prefix list", "PrefixListId")) return *e;
  return change(r, remove_table("prefix_list", "id", id, code::prefix_list_not_found, "prefix list", "PrefixListId"));
}

// --- reload and save ---------------------------------------------------------

apply_result control_api::reload(bool from_watch, bool* unchanged) {
  if (unchanged != nullptr) *unchanged = false;
  config::checked_policy next = config::read_policy_file(settings_.policy_file);
  if (from_watch && next.ok() && next.text == running_text()) {
    // The file holds what runs (the API's own write): nothing to do.
    if (unchanged != nullptr) *unchanged = true;
    apply_result same;
    same.generation = store_.generation();
    return same;
  }
  std::string text = next.text;
  std::optional<std::string> boot_note;
  if (next.ok() && settings_.boot_note) boot_note = settings_.boot_note(next);
  apply_result r = store_.apply(std::move(next), settings_.policy_file);
  if (r.published) {
    if (boot_note) r.notes.push_back(*boot_note);
    store_.wait_readers(std::chrono::milliseconds(500));
    std::string error;
    if (auto d = policy_document::parse(text, error)) {
      doc_ = std::move(*d);
      text_ = std::move(text);
    }
  }
  return r;
}

json control_api::reload_verb(const json& r) {
  if (auto e = known_fields(r, {})) return *e;
  const apply_result a = reload(false);
  if (!a.published) {
    json errors = json::array();
    for (const auto& e : a.errors) errors.push_back({{"Code", code::invalid_parameter_value}, {"Message", e}});
    // The code of the file's first error, where the line carries one ("... [Code]").
    if (!a.errors.empty()) {
      const std::string& first = a.errors.front();
      if (const auto open = first.rfind(" ["); open != std::string::npos && first.back() == ']') {
        errors[0]["Code"] = first.substr(open + 2, first.size() - open - 3);
      }
    }
    return {{"Error", errors.empty() ? json{{"Code", "Reload.Failed"}, {"Message", "not reloaded"}} : errors[0]},
            {"Errors", errors},
            {"PolicyGeneration", a.generation}};
  }
  json notes = json::array();
  for (const auto& n : a.notes) notes.push_back(n);
  return {{"Return", true}, {"PolicyGeneration", a.generation}, {"CompileMs", a.compile_ms}, {"Notes", notes}};
}

json control_api::save_verb(const json& r) {
  if (auto e = known_fields(r, {"Force"})) return *e;
  const bool force = r.value("Force", false);
  if (!force) {
    if (auto e = check_file_unchanged()) return *e;
  }
  if (const std::string why = replace_file(settings_.policy_file, running_text()); !why.empty()) {
    return error_reply(api_code::file_write_failed, settings_.policy_file + ": " + why);
  }
  return {{"Return", true}, {"PolicyGeneration", store_.generation()}, {"File", settings_.policy_file}};
}

// --- describe ----------------------------------------------------------------

json control_api::describe_security_groups(const json& r) {
  if (auto e = known_fields(r, {"GroupIds"})) return *e;
  std::vector<std::string> ids;
  bool filtered = false;
  if (auto e = string_list(r, "GroupIds", ids, filtered)) return *e;
  const config::policy_model& m = store_.model();
  json groups = json::array();
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (!m.find_group(ids[k])) {
      return error_reply(code::group_not_found, "no security group '" + ids[k] + "'",
                         "GroupIds[" + std::to_string(k) + "]");
    }
  }
  for (std::uint32_t g = 0; g < m.groups.size(); ++g) {
    if (filtered && std::find(ids.begin(), ids.end(), m.groups[g].id) == ids.end()) continue;
    groups.push_back(security_group_json(m, g));
  }
  return {{"SecurityGroups", groups}, {"PolicyGeneration", store_.generation()}};
}

json control_api::describe_security_group_rules(const json& r) {
  if (auto e = known_fields(r, {"GroupId", "SecurityGroupRuleIds"})) return *e;
  const config::policy_model& m = store_.model();
  std::optional<std::uint32_t> only;
  if (r.contains("GroupId")) {
    std::string id;
    if (auto e = need_string(r, "GroupId", id)) return *e;
    only = m.find_group(id);
    if (!only) return error_reply(code::group_not_found, "no security group '" + id + "'", "GroupId");
  }
  std::vector<std::string> ids;
  bool by_id = false;
  if (auto e = string_list(r, "SecurityGroupRuleIds", ids, by_id)) return *e;
  json rules = json::array();
  std::set<std::string> seen;
  // Each rule's global index in the running policy (rule ids are unique
  // across groups), for its counts.
  std::unordered_map<std::string_view, std::uint32_t> index_of;
  const dp::compiled_policy& policy = store_.current();
  if (rule_counts_) {
    for (std::uint32_t i = 1; i < policy.rules.size(); ++i) {
      if (policy.rules[i].used) index_of.emplace(policy.rule_id(i), i);
    }
  }
  for (std::uint32_t g = 0; g < m.groups.size(); ++g) {
    if (only && *only != g) continue;
    for (const auto* list : {&m.groups[g].ingress, &m.groups[g].egress}) {
      for (const auto& rule : *list) {
        if (by_id && std::find(ids.begin(), ids.end(), rule.id) == ids.end()) continue;
        seen.insert(rule.id);
        json shown = security_group_rule_json(m, g, rule);
        if (const auto it = index_of.find(rule.id); it != index_of.end())
          add_rule_counts(shown, rule_counts_(it->second));
        rules.push_back(std::move(shown));
      }
    }
  }
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (!seen.count(ids[k])) {
      return error_reply(api_code::rule_id_not_found, "no rule '" + ids[k] + "'",
                         "SecurityGroupRuleIds[" + std::to_string(k) + "]");
    }
  }
  return {{"SecurityGroupRules", rules}, {"PolicyGeneration", store_.generation()}};
}

json control_api::describe_resources(const json& r) {
  if (auto e = known_fields(r, {"Names"})) return *e;
  std::vector<std::string> names;
  bool filtered = false;
  if (auto e = string_list(r, "Names", names, filtered)) return *e;
  const config::policy_model& m = store_.model();
  json out = json::array();
  for (const auto& res : m.resources) {
    if (filtered && std::find(names.begin(), names.end(), res.name) == names.end()) continue;
    out.push_back(resource_json(m, res));
  }
  return {{"Resources", out}, {"PolicyGeneration", store_.generation()}};
}

json control_api::describe_prefix_lists(const json& r) {
  if (auto e = known_fields(r, {"PrefixListIds"})) return *e;
  std::vector<std::string> ids;
  bool filtered = false;
  if (auto e = string_list(r, "PrefixListIds", ids, filtered)) return *e;
  json out = json::array();
  for (const auto& pl : store_.model().prefix_lists) {
    if (filtered && std::find(ids.begin(), ids.end(), pl.id) == ids.end()) continue;
    out.push_back(prefix_list_json(pl));
  }
  return {{"PrefixLists", out}, {"PolicyGeneration", store_.generation()}};
}

json control_api::prefix_list_entries(const json& r) {
  if (auto e = known_fields(r, {"PrefixListId"})) return *e;
  std::string id;
  if (auto e = need_string(r, "PrefixListId", id)) return *e;
  const config::policy_model& m = store_.model();
  const auto pl = m.find_prefix_list(id);
  if (!pl) return error_reply(code::prefix_list_not_found, "no prefix list '" + id + "'", "PrefixListId");
  json entries = json::array();
  for (const auto& c : m.prefix_lists[*pl].entries) entries.push_back({{"Cidr", config::to_string(c)}});
  return {{"Entries", entries}, {"PolicyGeneration", store_.generation()}};
}

json control_api::describe_stats(const json& r) {
  if (auto e = known_fields(r, {})) return *e;
  json out = stats_ ? stats_() : json::object();
  const config::policy_model& m = store_.model();
  std::size_t rules = 0;
  for (const auto& g : m.groups) rules += g.ingress.size() + g.egress.size();
  out["PolicyGeneration"] = store_.generation();
  out["PolicyFile"] = settings_.policy_file;
  out["Persist"] = settings_.persist;
  out["SecurityGroups"] = m.groups.size();
  out["Rules"] = rules;
  out["Resources"] = m.resources.size();
  out["PrefixLists"] = m.prefix_lists.size();
  return out;
}

json control_api::explain_verb(const json& r) {
  if (auto e = known_fields(r, {"Source", "Destination", "Protocol", "SourcePort", "DestinationPort", "IcmpType",
                                "IcmpCode", "Direction", "Resource", "Address"})) {
    return *e;
  }
  json out = explain(store_.model(), store_.current(), r);
  if (out.contains("Error")) return out;
  out["PolicyGeneration"] = store_.generation();
  add_flows_to(out, r);
  return out;
}

// The flow each side's resource holds for the explained packet, if any:
// its packets pass as part of it whatever the verdict on a new flow.
// ICMP queries are keyed by their identifier, which explain does not take:
// describe-flows lists them.
void control_api::add_flows_to(json& explained, const json& r) {
  if (!flows_) return;
  const dp::compiled_policy& policy = store_.current();
  const auto proto = protocol_number(r["Protocol"]);
  if (!proto || *proto == ip_proto::icmp || *proto == ip_proto::icmpv6) return;
  const auto source = config::parse_address(r["Source"].get<std::string>());
  const auto destination = config::parse_address(r["Destination"].get<std::string>());
  const net::ip_address src = std::get<net::ip_address>(source);
  const net::ip_address dst = std::get<net::ip_address>(destination);
  const bool ports = *proto == ip_proto::tcp || *proto == ip_proto::udp;
  const auto port = [&](const char* field) -> std::uint16_t {
    return ports && r.contains(field) && r[field].is_number_integer() ? r[field].get<std::uint16_t>() : 0;
  };
  for (json& check : explained["Checks"]) {
    const auto res =
        std::find(policy.resource_names.begin(), policy.resource_names.end(), check["Resource"].get<std::string>());
    if (res == policy.resource_names.end()) continue;
    const bool ingress = check["Direction"] == "ingress";
    dp::flow_query q;
    q.by_slot = true;
    q.slot = policy.resource_slot[static_cast<std::size_t>(res - policy.resource_names.begin())];
    q.by_address = true;
    q.address = ingress ? src : dst;  // the remote end
    q.by_proto = true;
    q.proto = *proto;
    const net::ip_address local = ingress ? dst : src;
    const std::uint16_t local_port = port(ingress ? "DestinationPort" : "SourcePort");
    const std::uint16_t remote_port = port(ingress ? "SourcePort" : "DestinationPort");
    q.by_port = ports;  // few flows share a peer and a port: the exact one is among them
    q.port = remote_port;
    check["Flow"] = nullptr;
    for (const dp::flow_record& f : flows_(q, 1024).records) {
      const dp::flow_entry& e = f.entry;
      if (e.local == local.value && e.remote == q.address.value && e.local_port == local_port &&
          e.remote_port == remote_port) {
        check["Flow"] = flow_json(policy, names_by_slot(policy), f);
      }
    }
  }
}

json control_api::describe_flows(const json& r) {
  if (auto e = known_fields(r, {"Resource", "Address", "Port", "Protocol", "State", "Limit"})) return *e;
  const dp::compiled_policy& policy = store_.current();
  auto filter = flow_filter_of(policy, r);
  if (auto* e = std::get_if<json>(&filter)) return *e;
  const flow_filter& f = std::get<flow_filter>(filter);
  if (!flows_) return error_reply(code::invalid_parameter_value, "this daemon has no workers to ask", "Action");
  const flow_listing listed = flows_(f.query, f.limit);
  json flows = json::array();
  const std::vector<std::string_view> names = names_by_slot(policy);
  for (const dp::flow_record& rec : listed.records) flows.push_back(flow_json(policy, names, rec));
  json out{{"Flows", std::move(flows)},
           {"FlowCount", listed.matched},
           {"Truncated", listed.matched > listed.records.size()},
           {"PolicyGeneration", store_.generation()}};
  if (!listed.complete) out["Notes"] = json::array({"a worker did not answer in time: its flows are missing"});
  if (!listed.records.empty() && !listed.records.front().counted) {
    out["Notes"].push_back("packet and byte counts need [appliance.conntrack] flow_counters = true");
  }
  return out;
}

}  // namespace sgfw::cp
