// SPDX-License-Identifier: GPL-2.0-or-later
#include "db/identifiers.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include "base/strings.hpp"
#include "conf/error.hpp"
#include "shm/table.hpp"

namespace ppolicy {

bool valid_identifier(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  auto c0 = static_cast<unsigned char>(name[0]);
  if (!std::isalpha(c0) && c0 != '_') return false;
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '_' && c != '$') return false;
  return true;
}

std::string quote_ident(std::string_view name) {
  return "`" + std::string(name) + "`";
}

std::string checked_identifier(std::string_view name, const char* key) {
  if (!valid_identifier(name))
    throw KeyError(key, format("\"%.*s\" is not a valid table or column name (letters, digits, "
                               "\"_\", \"$\"; at most 64; not starting with a digit)",
                               static_cast<int>(name.size()), name.data()));
  return std::string(name);
}

namespace {

// digits: 1..max_len digits, no leading zero unless `zero_ok`.
bool number(std::string_view s, size_t max_len, bool zero_ok) {
  if (s.empty() || s.size() > max_len || (!zero_ok && s[0] == '0')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> words) {
  return std::find(words.begin(), words.end(), s) != words.end();
}

// The canonical spelling of an allowed type (see the header).
bool sql_type_allowed(std::string_view t) {
  if (one_of(t, {"DATE", "DATETIME", "DOUBLE", "TEXT", "BLOB", "TINYTEXT", "TINYBLOB", "MEDIUMTEXT",
                 "MEDIUMBLOB", "LONGTEXT", "LONGBLOB"}))
    return true;
  std::string_view base = t;
  if (base.size() > 9 && base.substr(base.size() - 9) == " UNSIGNED") base.remove_suffix(9);
  if (one_of(base, {"INT", "TINYINT", "SMALLINT", "MEDIUMINT", "BIGINT"})) return true;
  size_t open = t.find('(');
  if (open == std::string_view::npos || t.back() != ')') return false;
  std::string_view name = t.substr(0, open), args = t.substr(open + 1, t.size() - open - 2);
  if (one_of(name, {"CHAR", "VARCHAR", "BINARY", "VARBINARY"})) return number(args, 5, false);
  if (name == "DECIMAL") {
    size_t comma = args.find(',');
    if (comma == std::string_view::npos) return number(args, 2, false);
    return number(args.substr(0, comma), 2, false) && number(args.substr(comma + 1), 2, true);
  }
  return false;
}

}  // namespace

std::string canonical_sql_type(std::string_view type) {
  // Upper-case, collapse blanks, drop blanks around parentheses and commas.
  std::string t;
  bool blank = false;
  for (unsigned char c : trim(type)) {
    if (std::isspace(c)) {
      blank = true;
      continue;
    }
    bool glue = c == '(' || c == ')' || c == ',';
    if (blank && !t.empty() && !glue && t.back() != '(' && t.back() != ',') t += ' ';
    blank = false;
    t += static_cast<char>(std::toupper(c));
  }
  return sql_type_allowed(t) ? t : std::string();
}

bool keyable_sql_type(std::string_view t) {
  return t.find("TEXT") == std::string_view::npos && t.find("BLOB") == std::string_view::npos;
}

bool numeric_sql_type(std::string_view t) {
  return t.find("INT") != std::string_view::npos || t == "DOUBLE" || t.substr(0, 7) == "DECIMAL";
}

std::vector<std::string> split_top_level(std::string_view text) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : ',';
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    if (c == ',' && depth == 0) {
      auto piece = trim(text.substr(start, i - start));
      if (!piece.empty()) out.emplace_back(piece);
      start = i + 1;
    }
  }
  return out;
}

std::vector<ColumnMap> parse_mapping(std::string_view text, const char* key) {
  std::vector<ColumnMap> out;
  for (const auto& entry : split_top_level(text)) {
    ColumnMap m;
    auto colon = entry.find(':');
    m.name = std::string(trim(std::string_view(entry).substr(0, colon)));
    std::string rest = colon == std::string::npos ? "" : std::string(trim(entry.substr(colon + 1)));
    if (m.name.empty())
      throw KeyError(key, format("\"%s\": expected NAME[:COLUMN[ TYPE]]", entry.c_str()));
    auto blank = rest.find_first_of(" \t(");
    m.column = rest.substr(0, blank);
    if (m.column.empty()) m.column = m.name;
    std::string type = blank == std::string::npos ? "" : rest.substr(blank);
    m.type = type.empty() ? "VARCHAR(255)" : canonical_sql_type(type);
    if (m.type.empty())
      throw KeyError(key, format("\"%s\": unsupported column type \"%s\" (VARCHAR(n), CHAR(n), "
                                 "VARBINARY(n), INT, BIGINT, TEXT, BLOB, DATETIME, DOUBLE, ...)",
                                 entry.c_str(), std::string(trim(type)).c_str()));
    checked_identifier(m.column, key);
    for (const auto& o : out)
      if (o.name == m.name) throw KeyError(key, format("\"%s\" is mapped twice", m.name.c_str()));
    out.push_back(std::move(m));
  }
  return out;
}

ColumnMap mapped(const std::vector<ColumnMap>& mapping, const std::string& name) {
  for (const auto& m : mapping)
    if (m.name == name) return m;
  return ColumnMap{name, name, "VARCHAR(255)"};
}

std::string bounded_key(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  std::string tail = format("#%016llx%016llx", static_cast<unsigned long long>(hash_bytes(s)),
                            static_cast<unsigned long long>(hash_bytes("\x01" + std::string(s))));
  size_t keep = max > tail.size() ? max - tail.size() : 0;
  return std::string(s.substr(0, keep)) + tail;
}

}  // namespace ppolicy
