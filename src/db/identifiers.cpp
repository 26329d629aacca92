// SPDX-License-Identifier: GPL-2.0-or-later
#include "db/identifiers.hpp"

#include <cctype>
#include <regex>

#include "conf/error.hpp"
#include "shm/table.hpp"
#include "util/strings.hpp"

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
  static const std::regex ok(
      "(VAR)?(CHAR|BINARY)\\([1-9][0-9]{0,4}\\)"
      "|(TINY|SMALL|MEDIUM|BIG)?INT( UNSIGNED)?"
      "|(TINY|MEDIUM|LONG)?(TEXT|BLOB)"
      "|DATE|DATETIME|DOUBLE"
      "|DECIMAL\\([1-9][0-9]?(,[0-9][0-9]?)?\\)");
  return std::regex_match(t, ok) ? t : std::string();
}

bool keyable_sql_type(std::string_view t) {
  return t.find("TEXT") == std::string_view::npos && t.find("BLOB") == std::string_view::npos;
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
