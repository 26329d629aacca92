// SPDX-License-Identifier: GPL-2.0-or-later
// ListDyn: add, remove and check rows of a database table keyed by the
// values of `param` (mapped to columns by `mapping`), with an optional soft
// expiry (the row is still there but "soft expired", code 2: e.g. a cached
// result that should be refreshed) and hard expiry (the row is gone). The
// operation is the `operation` parameter or the call argument of the same
// name; softExpire, hardExpire, retcol values (`value`) and key values
// (`values`) can also be given per call:
//   run = listdyn(operation = "add", value = ["reason=trap"])
// add is one atomic INSERT ... ON DUPLICATE KEY UPDATE on the table's
// UNIQUE key (no select-then-insert race); expiry times are the database
// server's UTC clock. The maintenance process deletes hard-expired rows.
// (The original's ListDyn could not be used from the configuration at all:
// its hashArg always raised.)
#include <cppconn/datatype.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>

#include "base/strings.hpp"
#include "db/database.hpp"
#include "db/identifiers.hpp"
#include "db/schema.hpp"
#include "modules/keyed_lookup.hpp"
#include "modules/module.hpp"
#include "modules/param_values.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

struct ListDynParams {
  std::optional<std::vector<std::string>> param;
  std::string table;
  std::optional<long long> soft_expire;
  std::optional<long long> hard_expire;
  std::string mapping;
  std::string operation;
  std::optional<std::string> retcols;
};

const Option k_params[] = {
    bound_row<&ListDynParams::param>({"param", OptType::list, nullptr,
                                      "names of input data keys used to identify data row(s) "
                                      "(default: the mapped names that are "
                                      "not retcols)"}),
    bound_row<&ListDynParams::table>(
        {"table", OptType::string, "list", "name of database table where to search parameter"}),
    bound_row<&ListDynParams::soft_expire>(
        {"softExpire", OptType::duration, nullptr,
         "information that record will be soon expired (None or 0: never)"}),
    bound_row<&ListDynParams::hard_expire>({"hardExpire", OptType::duration, nullptr,
                                            "expiration time for the record (None or 0: never)"}),
    bound_row<&ListDynParams::mapping>(
        {"mapping", OptType::string, "",
         "mapping between params (and retcols) and database columns: NAME:COLUMN [TYPE], ..."}),
    bound_row<&ListDynParams::operation>({"operation", OptType::choice, "check",
                                          "list operation (add/remove/check)", "add|remove|check"}),
    bound_row<&ListDynParams::retcols>(
        {"retcols", OptType::string, nullptr,
         "names of columns to be returned (and stored by add); none: no related data"}),
};

const ArgSpec k_args[] = {
    {"operation", Type::string, "add, remove or check: overrides the operation parameter"},
    {"softExpire", Type::number, "seconds: overrides softExpire for an add"},
    {"hardExpire", Type::number, "seconds: overrides hardExpire for an add"},
    {"value", Type::list,
     "\"RETCOL=VALUE\" items stored by an add (default: the request attribute named like the "
     "retcol)"},
    k_values_arg,
};

enum class Op { add, remove, check };

class ListDyn final : public Module {
 public:
  ListDyn(const ModuleSetup& s, const ListDynParams& p) : d_name(s.name) {
    require_database(s.config, "table");
    d_table = checked_identifier(p.table, "table");
    auto mapping = parse_mapping(p.mapping, "mapping");
    bool all = false;
    d_retcols = parse_retcols(p.retcols, "retcols", mapping, all);
    if (all) throw KeyError("retcols", "\"*\" is not possible here: name the columns");
    if (p.param) {
      d_params = *p.param;
    } else {
      for (const auto& m : mapping)
        if (std::none_of(d_retcols.begin(), d_retcols.end(),
                         [&](const ColumnMap& r) { return r.name == m.name; }))
          d_params.push_back(m.name);
    }
    if (d_params.empty())
      throw KeyError("param", "is required (or mapping with names that are not retcols)");
    for (const auto& name : d_params) {
      ColumnMap m = mapped(mapping, name);
      checked_identifier(m.column, "param");
      if (!keyable_sql_type(m.type))
        throw KeyError("mapping", format("%s: a key column needs a length (VARCHAR(n), not %s)",
                                         name.c_str(), m.type.c_str()));
      d_keys.push_back(std::move(m));
    }
    d_soft = p.soft_expire.value_or(0);
    d_hard = p.hard_expire.value_or(0);
    d_op = parse_op(p.operation);
    d_fields.add(d_retcols);
    build_sql();
  }

  void prepare(Services& s) override {
    with_admin_connection(s.config(), who(), [&](DbConnection& c, const DbSettings& st) {
      ensure_tables(c, st, {table_def()}, who());
    });
  }

  void maintain(Services& s) override {
    with_admin_connection(s.config(), who(), [&](DbConnection& c, const DbSettings& st) {
      if (ensure_tables(c, st, {table_def()}, who()))
        expire_rows(c, d_table, "hard_expire", ExpiryColumn::datetime);
    });
  }

  const FieldSpec* instance_field(std::string_view name) const override {
    return d_fields.find(name);
  }

  bool cache_key(const Request& request, const CallArgs& args, std::string& key) const override {
    Op op = d_op;
    if (const Value* v = args.get("operation")) op = parse_op(v->s);
    if (op != Op::check) return false;  // changes are never shared
    append_key(key, param_values(request, args, d_params, false).values);
    return true;
  }

  Result check(Request& request, const CallArgs& args, CheckContext& ctx) override {
    Op op = d_op;
    if (const Value* v = args.get("operation")) {
      if (v->s != "add" && v->s != "remove" && v->s != "check")
        return Result(0, "unknown operation \"" + v->s + "\" (add, remove or check)");
      op = parse_op(v->s);
    }
    ParamValues pv = param_values(request, args, d_params, false);
    if (!pv.missing.empty()) return Result(0, "request has no attribute " + pv.missing);
    auto combos = cartesian(pv.values);
    if (combos.empty()) return Result(0, "too many value combinations");
    Database& db = ctx.services().resource<Database>();
    std::string error;
    if (op == Op::add) {
      long soft = d_soft, hard = d_hard;
      if (const Value* v = args.get("softExpire")) soft = static_cast<long>(v->n);
      if (const Value* v = args.get("hardExpire")) hard = static_cast<long>(v->n);
      std::vector<std::optional<std::string>> values = retcol_values(request, args);
      bool ok = db.run(
          ctx.deadline(),
          [&](DbConnection& c) {
            for (const auto& combo : combos) {
              auto& st = c.prepare(d_sql_add);
              int i = 1;
              for (const auto& v : combo)
                st.setString(i++, v);
              st.setInt64(i++, soft);
              st.setInt64(i++, soft);
              st.setInt64(i++, hard);
              st.setInt64(i++, hard);
              for (const auto& v : values) {
                if (v)
                  st.setString(i++, *v);
                else
                  st.setNull(i++, sql::DataType::VARCHAR);
              }
              st.executeUpdate();
            }
          },
          error);
      if (!ok) return Result(0, error);
      return Result(1, format("added %zu row%s", combos.size(), combos.size() == 1 ? "" : "s"));
    }
    if (op == Op::remove) {
      int removed = 0;
      bool ok = db.run(
          ctx.deadline(),
          [&](DbConnection& c) {
            removed = 0;
            for (const auto& combo : combos) {
              auto& st = c.prepare(d_sql_remove);
              bind_keys(st, combo);
              removed += st.executeUpdate();
            }
          },
          error);
      if (!ok) return Result(0, error);
      return Result(1, format("removed %d row%s", removed, removed == 1 ? "" : "s"));
    }
    // check: a fresh row (1) beats a soft-expired one (2); none: -1.
    int code = -1;
    DbRow best;
    bool ok = db.run(
        ctx.deadline(),
        [&](DbConnection& c) {
          code = -1;
          best.clear();
          for (const auto& combo : combos) {
            auto& st = c.prepare(d_sql_check);
            bind_keys(st, combo);
            std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
            if (!rs->next()) continue;
            int here = rs->getInt(1) ? 2 : 1;
            if (code == -1 || (code == 2 && here == 1)) {
              code = here;
              best.clear();
              for (size_t i = 0; i < d_retcols.size(); ++i)
                best.emplace_back(d_retcols[i].column, db_string(*rs, static_cast<int>(i + 2)));
            }
            if (code == 1) break;
          }
        },
        error);
    if (!ok) return Result(0, error);
    Result r(code, code == 1   ? (best.empty() ? "in list" : row_text(best))
                   : code == 2 ? (best.empty() ? "in list, soft expired" : row_text(best))
                               : "not in list");
    add_row_fields(r, best, d_retcols);
    return r;
  }

 private:
  static Op parse_op(const std::string& s) {
    return s == "add" ? Op::add : s == "remove" ? Op::remove : Op::check;
  }
  std::string who() const { return "module " + d_name + " (ListDyn)"; }
  // Each key is bound twice: once for the index, once for the exact test.
  static void bind_keys(sql::PreparedStatement& st, const std::vector<std::string>& combo) {
    for (size_t i = 0; i < combo.size(); ++i) {
      st.setString(static_cast<int>(2 * i + 1), combo[i]);
      st.setString(static_cast<int>(2 * i + 2), combo[i]);
    }
  }

  std::vector<std::optional<std::string>> retcol_values(const Request& request,
                                                        const CallArgs& args) const {
    std::vector<std::optional<std::string>> out;
    const Value* given = args.get("value");
    for (const auto& r : d_retcols) {
      std::optional<std::string> v;
      if (given && given->list)
        for (const auto& item : *given->list)
          if (item.s.size() > r.name.size() && item.s.compare(0, r.name.size(), r.name) == 0 &&
              item.s[r.name.size()] == '=')
            v = item.s.substr(r.name.size() + 1);
      if (!v) {
        bool found = false;
        std::string x = request_value(request, r.name, &found);
        if (found) v = std::move(x);
      }
      out.push_back(std::move(v));
    }
    return out;
  }

  TableDef table_def() const {
    std::vector<std::string> lines, keys;
    for (const auto& k : d_keys) {
      lines.push_back(format("  %s %s NOT NULL", quote_ident(k.column).c_str(), k.type.c_str()));
      keys.push_back(quote_ident(k.column));
    }
    lines.push_back("  soft_expire DATETIME NULL");
    lines.push_back("  hard_expire DATETIME NULL");
    for (const auto& r : d_retcols)
      lines.push_back(format("  %s %s NULL", quote_ident(r.column).c_str(), r.type.c_str()));
    lines.push_back(format("  UNIQUE KEY ppolicy_key (%s)", join(keys, ", ").c_str()));
    lines.push_back("  KEY hard_expire (hard_expire)");
    return {d_table, format("CREATE TABLE IF NOT EXISTS %s (\n%s\n) ENGINE=InnoDB",
                            quote_ident(d_table).c_str(), join(lines, ",\n").c_str())};
  }

  void build_sql() {
    std::vector<std::string> where, cols, marks, updates, ret;
    for (const auto& k : d_keys) {
      // `col = ?` finds the row by its index, with the column's collation
      // (utf8mb4_general_ci also ignores accents: "trüsted" = "trusted");
      // the second test keeps only keys equal after lower-casing.
      std::string c = quote_ident(k.column);
      where.push_back(
          format("%s = ? AND BINARY LOWER(CONVERT(%s USING utf8mb4)) = "
                 "BINARY LOWER(CONVERT(? USING utf8mb4))",
                 c.c_str(), c.c_str()));
      cols.push_back(quote_ident(k.column));
      marks.push_back("?");
    }
    std::string t = quote_ident(d_table);
    cols.push_back("soft_expire");
    cols.push_back("hard_expire");
    marks.push_back("IF(? > 0, UTC_TIMESTAMP() + INTERVAL ? SECOND, NULL)");
    marks.push_back("IF(? > 0, UTC_TIMESTAMP() + INTERVAL ? SECOND, NULL)");
    updates.push_back("soft_expire = VALUES(soft_expire)");
    updates.push_back("hard_expire = VALUES(hard_expire)");
    for (const auto& r : d_retcols) {
      std::string c = quote_ident(r.column);
      cols.push_back(c);
      marks.push_back("?");
      updates.push_back(c + " = VALUES(" + c + ")");
      ret.push_back(c);
    }
    std::string w = join(where, " AND ");
    d_sql_add =
        format("INSERT INTO %s (%s) VALUES (%s) ON DUPLICATE KEY UPDATE %s", t.c_str(),
               join(cols, ", ").c_str(), join(marks, ", ").c_str(), join(updates, ", ").c_str());
    d_sql_remove = format("DELETE FROM %s WHERE %s", t.c_str(), w.c_str());
    d_sql_check = format(
        "SELECT soft_expire IS NOT NULL AND soft_expire <= UTC_TIMESTAMP()%s%s FROM %s WHERE %s "
        "AND "
        "(hard_expire IS NULL OR hard_expire > UTC_TIMESTAMP()) LIMIT 1",
        ret.empty() ? "" : ", ", join(ret, ", ").c_str(), t.c_str(), w.c_str());
  }

  std::string d_name, d_table;
  std::vector<std::string> d_params;
  std::vector<ColumnMap> d_keys, d_retcols;
  long d_soft = 0, d_hard = 0;
  Op d_op = Op::check;
  RowFields d_fields;
  std::string d_sql_add, d_sql_remove, d_sql_check;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<ListDyn>(s, s.bound<ListDynParams>());
}

}  // namespace

extern const ModuleType k_list_dyn_type = {
    "ListDyn",
    "This module provide general access (add/remove/check) to the persistent data store in\n"
    "database. You can use this module for black/white lists, persistent data cache for\n"
    "result from other modules, ... \"mapping\" maps request attributes (and retcols) to\n"
    "columns: NAME:COLUMN [TYPE], ... (unmapped: a column of the same name, VARCHAR(255)).\n"
    "\"operation\" says what to do with a request: add (insert or refresh the row), remove\n"
    "(delete the matching rows) or check. Rows can have a soft expiry (still found, code 2)\n"
    "and a hard expiry (gone; removed by the daemon's maintenance).",
    k_params,
    {0, 0, 0},
    {},
    k_args,
    "    add, remove\n"
    "        1 .... operation was successful\n"
    "        0 .... error (database error, ...)\n"
    "    check\n"
    "        2 .... parameters are in list, but soft expired\n"
    "        1 .... parameters are in list (info and fields: the retcols)\n"
    "        0 .... failed to check (database error, ...)\n"
    "       -1 .... parameters are not in list\n",
    "# check if sender is in database table list1\n"
    "[module list1]\ntype = ListDyn\ntable = list1\nmapping = sender:mail\n\n"
    "# sender rows of list2 with their recip column\n"
    "[module list2]\ntype = ListDyn\ntable = list2\nparam = sender\nretcols = recip\n"
    "mapping = sender:mail VARCHAR(50), recip:rmail VARCHAR(50)\n\n"
    "# soft/hard expiration and add as default operation\n"
    "[module list3]\ntype = ListDyn\ntable = list3\nparam = sender\noperation = add\nsoftExpire = "
    "10m\n"
    "hardExpire = 30m\n",
    create,
};

}  // namespace ppolicy
