// SPDX-License-Identifier: GPL-2.0-or-later
// Names and column types that come from the configuration and end up in SQL
// text: table and column names are checked against a strict identifier
// grammar and always quoted with backticks; column types are checked against
// a short list of SQL types. Request data never goes through here: it is
// always bound to a prepared statement's `?`. Also the parser of the
// `mapping` parameters (the original's {dictName: ('column', 'TYPE')}).
// Used by module factories in the master (create()); pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ppolicy {

// [A-Za-z_][A-Za-z0-9_$]* (at most 64 bytes): MySQL's unquoted identifier
// characters, minus the ones that invite mistakes (no dots, no backticks).
bool valid_identifier(std::string_view name);
// `name` (backticks), for a name that passed valid_identifier().
std::string quote_ident(std::string_view name);
// Throws KeyError(key, ...) unless valid; returns the name.
std::string checked_identifier(std::string_view name, const char* key);

// An SQL column type: VARCHAR(n), CHAR(n), VARBINARY(n), BINARY(n),
// [TINY|SMALL|MEDIUM|BIG]INT [UNSIGNED], [TINY|MEDIUM|LONG]TEXT/BLOB, TEXT,
// BLOB, DATE, DATETIME, DOUBLE, DECIMAL(p[,s]). Returns the canonical
// (upper-case, single-spaced) text or "" when not allowed.
std::string canonical_sql_type(std::string_view type);
// Types that can be (part of) a unique key without a prefix length.
bool keyable_sql_type(std::string_view canonical);
// A number column (INT..., DOUBLE, DECIMAL): its values are numbers in the policy language.
bool numeric_sql_type(std::string_view canonical);

// One entry of a mapping: request attribute (the original's dictName) to
// column and type.
struct ColumnMap {
  std::string name;    // request attribute or retcol name
  std::string column;  // database column
  std::string type;    // canonical SQL type
};

// Parse "sender:mail VARCHAR(50), recip:rmail, client_address" (entries
// separated by commas outside parentheses; "NAME[:COLUMN[ TYPE]]"; the
// column defaults to NAME and the type to VARCHAR(255)). Throws KeyError.
std::vector<ColumnMap> parse_mapping(std::string_view text, const char* key);
// The mapping of `name`, or {name, name, VARCHAR(255)} when not mapped.
ColumnMap mapped(const std::vector<ColumnMap>& mapping, const std::string& name);

// Split on commas that are not inside parentheses; pieces trimmed, empty
// pieces dropped.
std::vector<std::string> split_top_level(std::string_view text);

// A key for a bounded store: `s` itself when at most `max` bytes, else its
// first bytes followed by "#" and 32 hex digits of two independent hashes
// of the whole (so long keys stay distinct and fit the slot).
std::string bounded_key(std::string_view s, size_t max);

}  // namespace ppolicy
