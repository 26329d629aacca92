// SPDX-License-Identifier: GPL-2.0-or-later
#include "db/keyed_table.hpp"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/codec.hpp"
#include "base/log.hpp"
#include "base/strings.hpp"
#include "conf/config.hpp"
#include "db/database.hpp"
#include "db/schema.hpp"
#include "shm/table.hpp"

namespace ppolicy {
namespace {

std::string join_key(const std::vector<std::string>& key) {
  std::string k;
  for (size_t i = 0; i < key.size(); ++i) {
    if (i) k += '\0';
    k += key[i];
  }
  return k;
}

std::string encode_row(bool found, const DbRow& row) {
  std::string out;
  ByteWriter w(out);
  w.u8(found ? '1' : '0');
  for (const auto& [k, v] : row)
    w.str(k).str(v);
  return out;
}

bool decode_row(std::string_view in, bool& found, DbRow& row) {
  ByteReader rd(in);
  found = rd.u8() == '1';
  row.clear();
  while (rd.ok() && !rd.done()) {
    std::string k(rd.str());
    std::string v(rd.str());
    row.emplace_back(std::move(k), std::move(v));
  }
  return rd.ok();
}

}  // namespace

std::vector<ColumnMap> parse_retcols(const std::optional<std::string>& value, const char* key,
                                     const std::vector<ColumnMap>& mapping, bool& all) {
  std::vector<ColumnMap> out;
  all = false;
  if (!value) return out;
  std::string text(trim(*value));
  if (text == "*") {
    all = true;
    return out;
  }
  for (const auto& name : split(text, ", \t")) {
    ColumnMap m = mapped(mapping, name);
    checked_identifier(m.column, key);
    out.push_back(std::move(m));
  }
  return out;
}

std::string fold_key(const std::string& value, bool case_sensitive) {
  return case_sensitive ? value : lower(value);
}

KeyedTable::KeyedTable(KeyedTableSpec spec) : d_spec(std::move(spec)) {
  std::vector<std::string> what, cols, where;
  for (const auto& k : d_spec.keys) {
    what.push_back(k.column);
    where.push_back(quote_ident(k.column) + " = ?");
    cols.push_back(quote_ident(k.column));
  }
  if (d_spec.all_columns) {
    cols.push_back(quote_ident(d_spec.table) + ".*");
    what.push_back("*");
  } else {
    for (const auto& r : d_spec.retcols) {
      cols.push_back(quote_ident(r.column));
      what.push_back("r:" + r.column);
    }
  }
  what.push_back(d_spec.table);
  what.push_back(d_spec.case_sensitive ? "cs" : "ci");
  d_fingerprint = hash_bytes(join(what, "\n"));
  // The WHERE uses the key's index and the column's collation, which may
  // match more than the key (utf8mb4_general_ci ignores accents: "trüsted"
  // = "trusted"); find_sql() keeps only a row whose key columns, folded like
  // the snapshot's, equal the key byte for byte.
  d_select =
      format("SELECT %s FROM %s WHERE %s LIMIT %d", join(cols, ", ").c_str(),
             quote_ident(d_spec.table).c_str(), join(where, " AND ").c_str(), k_max_candidates);
  d_mem_prefix = format("keyed\n%s\n%016llx\n", d_spec.instance.c_str(),
                        static_cast<unsigned long long>(d_fingerprint));
}

TableDef KeyedTable::table_def() const {
  std::vector<std::string> lines, keycols;
  for (const auto& k : d_spec.keys) {
    lines.push_back(format("  %s %s NOT NULL", quote_ident(k.column).c_str(), k.type.c_str()));
    keycols.push_back(quote_ident(k.column));
  }
  for (const auto& r : d_spec.retcols) {
    bool dup = std::any_of(d_spec.keys.begin(), d_spec.keys.end(),
                           [&](const ColumnMap& k) { return k.column == r.column; });
    if (!dup)
      lines.push_back(format("  %s %s NULL", quote_ident(r.column).c_str(), r.type.c_str()));
  }
  lines.push_back(format("  %s ppolicy_key (%s)", d_spec.unique ? "UNIQUE KEY" : "KEY",
                         join(keycols, ", ").c_str()));
  return {d_spec.table, format("CREATE TABLE IF NOT EXISTS %s (\n%s\n) ENGINE=InnoDB",
                               quote_ident(d_spec.table).c_str(), join(lines, ",\n").c_str())};
}

std::string KeyedTable::snapshot_path(const Services& services) const {
  const std::string& dir = const_cast<Services&>(services).config().server.state_dir;
  return dir + "/cacheall-" + d_spec.instance + ".snap";
}

void KeyedTable::prepare(Services& services) {
  with_admin_connection(services.config(), d_spec.who, [&](DbConnection& c, const DbSettings& s) {
    ensure_tables(c, s, {table_def()}, d_spec.who);
  });
  refresh_snapshot(services, true);
}

void KeyedTable::maintain(Services& services) {
  // A table dropped (or added by a reload) since the start is created again.
  with_admin_connection(services.config(), d_spec.who, [&](DbConnection& c, const DbSettings& s) {
    ensure_tables(c, s, {table_def()}, d_spec.who);
  });
  refresh_snapshot(services, false);
}

void KeyedTable::refresh_snapshot(Services& services, bool force) {
  if (!d_spec.cache_all) return;
  std::string path = snapshot_path(services);
  long interval = services.config().server.maintenance_interval_s;
  long age = snapshot_age(path, d_fingerprint);
  if (!force && age >= 0 && age + interval / 2 < d_spec.refresh) return;
  std::vector<std::string> columns;
  std::vector<SnapshotRow> rows;
  bool too_big = false;
  bool ok =
      with_admin_connection(services.config(), d_spec.who, [&](DbConnection& c, const DbSettings&) {
        std::vector<std::string> sel;
        for (const auto& k : d_spec.keys)
          sel.push_back(quote_ident(k.column));
        if (d_spec.all_columns) {
          sel.push_back(quote_ident(d_spec.table) + ".*");
        } else {
          for (const auto& r : d_spec.retcols)
            sel.push_back(quote_ident(r.column));
        }
        auto& st = c.prepare(format("SELECT %s FROM %s", join(sel, ", ").c_str(),
                                    quote_ident(d_spec.table).c_str()));
        std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
        sql::ResultSetMetaData* md = rs->getMetaData();
        int n = static_cast<int>(md->getColumnCount());
        int nkeys = static_cast<int>(d_spec.keys.size());
        for (int i = nkeys + 1; i <= n; ++i)
          columns.push_back(md->getColumnLabel(static_cast<unsigned>(i)).asStdString());
        while (rs->next()) {
          if (rows.size() >= k_snapshot_max_rows) {
            too_big = true;
            break;
          }
          SnapshotRow row;
          std::vector<std::string> key;
          for (int i = 1; i <= nkeys; ++i)
            key.push_back(fold_key(db_string(*rs, i), d_spec.case_sensitive));
          row.key = join_key(key);
          for (int i = nkeys + 1; i <= n; ++i) {
            if (rs->isNull(i))
              row.values.emplace_back(std::nullopt);
            else
              row.values.emplace_back(db_string(*rs, i));
          }
          rows.push_back(std::move(row));
        }
      });
  if (!ok) {
    if (age >= 0)
      log_warn("%s: cacheAll refresh failed; keeping the snapshot from %lds ago",
               d_spec.who.c_str(), age);
    return;
  }
  if (too_big) {
    unlink(path.c_str());
    log_error("%s: table %s has more than %zu rows: cacheAll disabled, querying the database",
              d_spec.who.c_str(), d_spec.table.c_str(), k_snapshot_max_rows);
    return;
  }
  size_t n = rows.size();
  std::string error;
  if (!write_snapshot(path, d_fingerprint, columns, std::move(rows), error)) {
    log_error("%s: cannot write the cacheAll snapshot %s (the module queries the database instead)",
              d_spec.who.c_str(), error.c_str());
    return;
  }
  log_info("%s: cacheAll snapshot of table %s: %zu rows", d_spec.who.c_str(), d_spec.table.c_str(),
           n);
}

bool KeyedTable::find(Services& sv, Deadline deadline, const std::vector<std::string>& key,
                      bool& found, DbRow& row, std::string& error, bool remember) {
  row.clear();
  if (d_spec.cache_all) {
    if (!d_reader) {
      long max_age =
          std::max({3600L, 4 * d_spec.refresh, 3 * sv.config().server.maintenance_interval_s});
      d_reader = std::make_unique<SnapshotReader>(snapshot_path(sv), d_fingerprint, max_age);
    }
    if (d_reader->available(static_cast<time_t>(sv.now()))) {
      std::vector<std::optional<std::string>> values;
      found = d_reader->find(join_key(key), values);
      if (found)
        for (size_t i = 0; i < values.size() && i < d_reader->columns().size(); ++i)
          row.emplace_back(d_reader->columns()[i], values[i].value_or(""));
      return true;
    }
  }
  ShmTable* cache = remember && d_spec.mem_cache > 0 ? sv.cache() : nullptr;
  std::string mkey;
  if (cache) {
    mkey = d_mem_prefix + join_key(key);
    std::string blob;
    if (mkey.size() < ShmTable::k_max_entry && cache->get(mkey, blob, sv.now()) &&
        decode_row(blob, found, row))
      return true;
  }
  if (!find_sql(sv, deadline, key, found, row, error)) return false;
  if (cache && mkey.size() < ShmTable::k_max_entry)
    cache->put(mkey, encode_row(found, row), sv.now() + static_cast<uint32_t>(d_spec.mem_cache),
               sv.now());
  return true;
}

bool KeyedTable::find_sql(Services& sv, Deadline deadline, const std::vector<std::string>& key,
                          bool& found, DbRow& row, std::string& error) {
  return sv.resource<Database>().run(
      deadline,
      [&](DbConnection& c) {
        auto& st = c.prepare(d_select);
        for (size_t i = 0; i < key.size(); ++i)
          st.setString(static_cast<int>(i + 1), key[i]);
        std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
        row.clear();
        found = false;
        int nkeys = static_cast<int>(key.size());
        while (!found && rs->next()) {
          found = true;
          for (int i = 0; i < nkeys && found; ++i)
            found = fold_key(db_string(*rs, i + 1), d_spec.case_sensitive) == key[i];
        }
        if (!found) return;
        if (d_spec.all_columns) {
          sql::ResultSetMetaData* md = rs->getMetaData();
          for (unsigned i = nkeys + 1; i <= md->getColumnCount(); ++i)
            row.emplace_back(md->getColumnLabel(i).asStdString(),
                             db_string(*rs, static_cast<int>(i)));
        } else {
          for (size_t i = 0; i < d_spec.retcols.size(); ++i)
            row.emplace_back(d_spec.retcols[i].column,
                             db_string(*rs, static_cast<int>(nkeys + i + 1)));
        }
      },
      error);
}

}  // namespace ppolicy
