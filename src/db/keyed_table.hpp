// SPDX-License-Identifier: GPL-2.0-or-later
// A lookup table of List, ListBW, ListMailDomain and LookupDB: key columns
// (fed from request attributes through the mapping) and the columns a hit
// returns (retcols, or every column with "*").
//
// find() answers whether one key is in the table and with which row:
//  - cacheAll: from the table's snapshot (db/snapshot.hpp) when a current
//    one exists; keys compare exactly after ASCII lower-casing unless
//    cacheCaseSensitive;
//  - otherwise (or when the snapshot is missing or too old): a prepared
//    SELECT ... WHERE col1 = ? AND ... LIMIT 1, compared by the database's
//    collation (utf8mb4_general_ci is case-insensitive).
// A per-key memory of answers in the shared result cache (List's memCache)
// is optional. The master creates the table at start when allowed
// (prepare()) and builds the first snapshot; the maintenance process
// re-creates a dropped table and refreshes the snapshot (maintain()).
// Worker side: find(); master/maintenance: prepare(), maintain().
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "conf/option.hpp"
#include "db/identifiers.hpp"
#include "db/snapshot.hpp"

namespace ppolicy {

class Services;
struct TableDef;

struct KeyedTableSpec {
  std::string who;                 // "module NAME (Type)", for messages
  std::string instance;            // module instance name (snapshot file, memory keys)
  std::string table;               // validated identifier
  std::vector<ColumnMap> keys;     // request attribute -> key column
  std::vector<ColumnMap> retcols;  // columns returned on a hit
  bool all_columns = false;        // retcols = "*"
  bool case_sensitive = false;
  bool unique = true;  // create the table with a UNIQUE key (else an INDEX)
  bool cache_all = false;
  long refresh = 900;  // cacheAllRefresh
  long mem_cache = 0;  // seconds a per-key answer is remembered (0: not)
};

// Column values of a hit: (column, value); a NULL value is "".
using DbRow = std::vector<std::pair<std::string, std::string>>;

class KeyedTable {
 public:
  explicit KeyedTable(KeyedTableSpec spec);

  // Look one key (one value per key column, already case-folded when the
  // table is case-insensitive) up. False with `error` on failure.
  // `remember`: use the per-key memory (mem_cache) for this lookup.
  bool find(Services& sv, Deadline deadline, const std::vector<std::string>& key, bool& found,
            DbRow& row, std::string& error, bool remember = false);

  TableDef table_def() const;
  void prepare(Services& services);
  void maintain(Services& services);
  const KeyedTableSpec& spec() const { return d_spec; }

 private:
  std::string snapshot_path(const Services& services) const;
  void refresh_snapshot(Services& services, bool force);
  bool find_sql(Services& sv, Deadline deadline, const std::vector<std::string>& key, bool& found,
                DbRow& row, std::string& error);

  KeyedTableSpec d_spec;
  uint64_t d_fingerprint;
  std::string d_select;  // the per-key SELECT
  // Rows the collation may call equal to one key (UNIQUE tables: one).
  static constexpr int k_max_candidates = 64;
  std::string d_mem_prefix;
  std::unique_ptr<SnapshotReader> d_reader;  // worker side, created on first use
};

// The retcols parameter `key` of value `text` (unset, a comma list of
// names, or "*": all = true), each name mapped to its column through
// `mapping` (default: a column of the same name, VARCHAR(255)). Throws
// KeyError.
std::vector<ColumnMap> parse_retcols(const std::optional<std::string>& text, const char* key,
                                     const std::vector<ColumnMap>& mapping, bool& all);

// Request values -> case-folded key values (ASCII lower-case unless the
// table is case-sensitive).
std::string fold_key(const std::string& value, bool case_sensitive);

}  // namespace ppolicy
