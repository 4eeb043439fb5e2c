#include "ctl/reply_format.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace sgfw::ctl {

using nlohmann::json;

namespace {

// Control characters of a value (a description someone else wrote) are
// shown, not sent to the terminal.
std::string printable(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7F) {
      static constexpr char k_hex[] = "0123456789abcdef";
      out += "\\x";
      out += k_hex[u >> 4];
      out += k_hex[u & 0xF];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string scalar_text(const json& v) {
  if (v.is_string()) return printable(v.get<std::string>());
  if (v.is_null()) return "-";
  if (v.is_array()) {
    // Arrays of scalars inline, joined; deeper ones as JSON.
    std::string s;
    for (const json& x : v) {
      if (!s.empty()) s += ',';
      s += x.is_structured() ? x.dump() : scalar_text(x);
    }
    return s;
  }
  return v.dump();
}

bool is_row_list(const json& v) {
  return v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_object(); });
}

// The columns of a list of objects: every key any row has, in first-seen order.
std::vector<std::string> columns_of(const json& rows) {
  std::vector<std::string> cols;
  for (const json& r : rows) {
    for (const auto& [k, v] : r.items()) {
      if (std::find(cols.begin(), cols.end(), k) == cols.end()) cols.push_back(k);
    }
  }
  return cols;
}

void print_table(std::ostream& out, const std::string& title, const json& rows) {
  const std::vector<std::string> cols = columns_of(rows);
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> width;
  for (const auto& c : cols) width.push_back(c.size());
  for (const json& r : rows) {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      line.push_back(r.contains(cols[i]) ? scalar_text(r[cols[i]]) : "");
      width[i] = std::max(width[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  out << title << "\n";
  const auto row = [&](const std::vector<std::string>& line) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      out << (i == 0 ? "  " : "  ") << line[i];
      if (i + 1 < line.size()) out << std::string(width[i] - line[i].size(), ' ');
    }
    out << "\n";
  };
  row(cols);
  std::vector<std::string> rule;
  for (const std::size_t w : width) rule.emplace_back(w, '-');
  row(rule);
  for (const auto& line : cells) row(line);
}

void print_text(std::ostream& out, const std::string& prefix, const json& v) {
  if (v.is_object()) {
    // Scalars of the object on one line, then its lists and objects.
    std::string line;
    for (const auto& [k, x] : v.items()) {
      if (x.is_structured() && !(x.is_array() && !is_row_list(x) && !x.empty() && !x[0].is_structured())) continue;
      line += (line.empty() ? "" : "\t") + scalar_text(x);
    }
    if (!line.empty()) out << (prefix.empty() ? "" : prefix + "\t") << line << "\n";
    for (const auto& [k, x] : v.items()) {
      if (x.is_object() || is_row_list(x)) print_text(out, k, x);
    }
  } else if (v.is_array()) {
    for (const json& x : v) print_text(out, prefix, x);
  } else {
    out << prefix << "\t" << scalar_text(v) << "\n";
  }
}

}  // namespace

bool parse_output_format(std::string_view name, output_format& out) {
  if (name == "json") {
    out = output_format::json;
  } else if (name == "table") {
    out = output_format::table;
  } else if (name == "text") {
    out = output_format::text;
  } else {
    return false;
  }
  return true;
}

void print_reply(std::ostream& out, const json& reply, output_format f) {
  switch (f) {
    case output_format::json:
      out << reply.dump(4, ' ', false, json::error_handler_t::replace) << "\n";
      return;
    case output_format::text:
      print_text(out, "", reply);
      return;
    case output_format::table: {
      std::vector<std::pair<std::string, std::string>> scalars;
      std::size_t key_width = 0;
      for (const auto& [k, v] : reply.items()) {
        if (is_row_list(v) || v.is_object()) continue;
        scalars.emplace_back(printable(k), scalar_text(v));
        key_width = std::max(key_width, k.size());
      }
      for (const auto& [k, v] : scalars) out << k << std::string(key_width - k.size() + 2, ' ') << v << "\n";
      for (const auto& [k, v] : reply.items()) {
        if (is_row_list(v)) {
          print_table(out, k, v);
        } else if (v.is_object() && !v.empty()) {
          print_table(out, k, json::array({v}));
        }
      }
      return;
    }
  }
}

}  // namespace sgfw::ctl
