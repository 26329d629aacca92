// SPDX-License-Identifier: GPL-2.0-or-later
// DumpDataDB: store every request it sees (with the results saved by the
// modules that ran before it) in a database table, one row per attribute:
// (id, key, value), plus a "date" row (UTC). Names and values are bound to
// prepared statements, so any attribute name or value (also
// "a');DROP TABLE x;--") is stored verbatim; the columns are binary, so
// bytes that are not UTF-8 are kept too. The id comes from the table's
// AUTO_INCREMENT, so hosts sharing the database never collide. One
// transaction per request.
//
// split = date (interval day, week, month or year): every period has its
// own table, TABLEyyyymmdd (week: the Monday), TABLEyyyymm or TABLEyyyy
// (UTC), created when the first request of the period arrives.
// split = records (interval N): the maintenance process renames the table
// to TABLEyyyymmddhhmmss once it holds N requests and starts a new one
// whose ids continue (checked every maintenance_interval, so a table may
// hold a few more). The original's split did not work at all.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <ctime>
#include <set>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "db/database.hpp"
#include "db/identifiers.hpp"
#include "db/schema.hpp"
#include "modules/module.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

struct DumpDataDbParams {
  std::string table;
  std::optional<std::string> split;
  std::optional<std::string> interval;
};

const Option k_params[] = {
    bound_row<&DumpDataDbParams::table>(
        {"table", OptType::string, "dump", "database table where to dump data from requests"}),
    bound_row<&DumpDataDbParams::split>(
        {"split", OptType::string, nullptr, "split database (None, \"records\", \"date\")"}),
    bound_row<&DumpDataDbParams::interval>(
        {"interval", OptType::string, nullptr,
         "split interval: requests per table (split = records) or day, week, month, year (split = "
         "date)"}),
};

const FieldSpec k_fields[] = {
    {"id", Type::number, "the id of the stored request"},
    {"table", Type::string, "the table it was stored in"},
};

constexpr size_t k_chunk = 32;  // attribute rows per INSERT

enum class Split { none, records, date };

class DumpDataDb final : public Module {
 public:
  DumpDataDb(const ModuleSetup& s, const DumpDataDbParams& p) : d_name(s.name) {
    require_database(s.config, "table");
    d_table = checked_identifier(p.table, "table");
    std::string split = lower(p.split.value_or("none"));
    std::string interval = lower(p.interval.value_or(""));
    if (split == "none") {
      d_split = Split::none;
    } else if (split == "records") {
      d_split = Split::records;
      auto n = parse_int(interval);
      if (!n || *n < 1)
        throw KeyError("interval", "split = records needs the number of requests per table");
      d_records = *n;
    } else if (split == "date") {
      d_split = Split::date;
      if (interval != "day" && interval != "week" && interval != "month" && interval != "year")
        throw KeyError("interval", "split = date needs day, week, month or year");
      d_period = interval;
    } else {
      throw KeyError("split", "None, records or date");
    }
    if (d_split != Split::none && d_table.size() > 50)
      throw KeyError("table", "at most 50 characters with split (room for the date suffix)");
    // Only split = date makes tables on the request path; the others are
    // the master's (prepare) and the maintenance process's.
    if (d_split != Split::date) d_ensured = d_table;
  }

  void prepare(Services& s) override {
    with_admin_connection(s.config(), who(), [&](DbConnection& c, const DbSettings& st) {
      ensure_tables(c, st, {table_def(current_table(time(nullptr)))}, who());
    });
  }

  void maintain(Services& s) override {
    with_admin_connection(s.config(), who(), [&](DbConnection& c, const DbSettings& st) {
      if (!ensure_tables(c, st, {table_def(current_table(time(nullptr)))}, who())) return;
      if (d_split == Split::records) rotate(c);
    });
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    std::string table = current_table(static_cast<time_t>(ctx.services().now()));
    // Attribute names are at most 255 bytes (the key column); after
    // truncation two names could meet: the first one wins.
    std::vector<std::pair<std::string, std::string_view>> attrs;
    std::set<std::string> seen;
    for (const auto& [k, v] : request.attributes()) {
      std::string name(k.substr(0, 255));
      if (name == "date" || !seen.insert(name).second) continue;
      attrs.emplace_back(std::move(name), v);
    }
    uint64_t id = 0;
    std::string error;
    Database& db = ctx.services().resource<Database>();
    bool ok = db.run(
        ctx.deadline(),
        [&](DbConnection& c) {
          if (d_ensured != table && db.settings().create_tables) {
            // The first request of a period (split = date) creates its table.
            c.execute(table_def(table).ddl);
            d_ensured = table;
          }
          c.begin();
          const std::string t = quote_ident(table);
          c.prepare(format("INSERT INTO %s (id, `key`, value) VALUES (NULL, 'date', "
                           "DATE_FORMAT(UTC_TIMESTAMP(), '%%Y-%%m-%%d %%H:%%i:%%s'))",
                           t.c_str()))
              .executeUpdate();
          std::unique_ptr<sql::ResultSet> rs(c.prepare("SELECT LAST_INSERT_ID()").executeQuery());
          if (!rs->next()) throw std::runtime_error("no LAST_INSERT_ID()");
          id = rs->getUInt64(1);
          rs.reset();
          for (size_t at = 0; at < attrs.size(); at += k_chunk) {
            size_t n = std::min(k_chunk, attrs.size() - at);
            std::string sql = format("INSERT INTO %s (id, `key`, value) VALUES ", t.c_str());
            for (size_t i = 0; i < n; ++i)
              sql += i ? ", (?, ?, ?)" : "(?, ?, ?)";
            auto& st = c.prepare(sql);
            for (size_t i = 0; i < n; ++i) {
              int p = static_cast<int>(3 * i);
              st.setUInt64(p + 1, id);
              st.setString(p + 2, attrs[at + i].first);
              st.setString(p + 3, std::string(attrs[at + i].second));
            }
            st.executeUpdate();
          }
        },
        error);
    if (!ok) {
      if (d_split == Split::date) d_ensured.clear();  // maybe dropped: create it next time
      return Result(0, error);
    }
    Result r(1, std::to_string(id));
    r.set("id", static_cast<double>(id));
    r.set("table", table);
    return r;
  }

 private:
  std::string who() const { return "module " + d_name + " (DumpDataDB)"; }

  std::string current_table(time_t now) const {
    if (d_split != Split::date) return d_table;
    tm t{};
    gmtime_r(&now, &t);
    char buf[16];
    if (d_period == "year") {
      strftime(buf, sizeof buf, "%Y", &t);
    } else if (d_period == "month") {
      strftime(buf, sizeof buf, "%Y%m", &t);
    } else {
      if (d_period == "week") {
        time_t monday = now - static_cast<time_t>((t.tm_wday + 6) % 7) * 86400;
        gmtime_r(&monday, &t);
      }
      strftime(buf, sizeof buf, "%Y%m%d", &t);
    }
    return d_table + buf;
  }

  static TableDef table_def(const std::string& table) {
    return {table, format("CREATE TABLE IF NOT EXISTS %s (\n"
                          "  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,\n"
                          "  `key` VARBINARY(255) NOT NULL,\n"
                          "  value MEDIUMBLOB,\n"
                          "  PRIMARY KEY (id, `key`)\n"
                          ") ENGINE=InnoDB",
                          quote_ident(table).c_str())};
  }

  // split = records: rename the table away once it holds d_records requests.
  void rotate(DbConnection& c) {
    auto span = [&](uint64_t& max) {
      std::unique_ptr<sql::ResultSet> rs(
          c.prepare(format("SELECT MIN(id), MAX(id) FROM %s", quote_ident(d_table).c_str()))
              .executeQuery());
      if (!rs->next() || rs->isNull(1)) return 0LL;
      max = rs->getUInt64(2);
      return static_cast<long long>(max - rs->getUInt64(1) + 1);
    };
    uint64_t max = 0;
    if (span(max) < d_records) return;
    // Several hosts' maintenance may try at once: one of them rotates.
    auto& lock = c.prepare("SELECT GET_LOCK(?, 0)");
    std::string lock_name = "ppolicy-rotate-" + d_table;
    lock.setString(1, lock_name);
    std::unique_ptr<sql::ResultSet> got(lock.executeQuery());
    if (!got->next() || got->getInt(1) != 1) return;
    got.reset();
    if (span(max) >= d_records) {
      time_t now = time(nullptr);
      tm t{};
      gmtime_r(&now, &t);
      char buf[16];
      strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &t);
      std::string old_name = d_table + buf, fresh = d_table + "_new";
      c.execute(format("DROP TABLE IF EXISTS %s", quote_ident(fresh).c_str()));
      c.execute(format("CREATE TABLE %s LIKE %s", quote_ident(fresh).c_str(),
                       quote_ident(d_table).c_str()));
      c.execute(format("ALTER TABLE %s AUTO_INCREMENT = %llu", quote_ident(fresh).c_str(),
                       static_cast<unsigned long long>(max + 1)));
      c.execute(format("RENAME TABLE %s TO %s, %s TO %s", quote_ident(d_table).c_str(),
                       quote_ident(old_name).c_str(), quote_ident(fresh).c_str(),
                       quote_ident(d_table).c_str()));
      log_info("%s: table %s renamed to %s after %lld requests", who().c_str(), d_table.c_str(),
               old_name.c_str(), d_records);
    }
    auto& release = c.prepare("SELECT RELEASE_LOCK(?)");
    release.setString(1, lock_name);
    std::unique_ptr<sql::ResultSet>(release.executeQuery());
  }

  std::string d_name, d_table, d_period, d_ensured;
  Split d_split = Split::none;
  long long d_records = 0;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  return std::make_unique<DumpDataDb>(s, s.bound<DumpDataDbParams>());
}

}  // namespace

extern const ModuleType k_dump_data_db_type = {
    "DumpDataDB",
    "Dump data from incoming request into the database (one row per attribute, with the\n"
    "results of the modules that ran before it). This information can be used to improve\n"
    "debugging of other modules or to gather statistical data for further analysis. Ids come\n"
    "from the table's AUTO_INCREMENT (no collisions between hosts). split = date stores each\n"
    "period in its own table; split = records renames the table once it holds `interval`\n"
    "requests.",
    k_params,
    {0, 0, 0},
    k_fields,
    {},
    "    1 .... stored; the info (and field id) is the new database ID\n"
    "    0 .... database error (the info says which)\n",
    "# save request info in the default table dump\n"
    "[module dumpdb1]\ntype = DumpDataDB\n\n"
    "# save in my_dump, one table per day\n"
    "[module dumpdb2]\ntype = DumpDataDB\ntable = my_dump\nsplit = date\ninterval = day\n",
    create,
};

}  // namespace ppolicy
