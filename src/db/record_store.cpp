// SPDX-License-Identifier: GPL-2.0-or-later
#include "db/record_store.hpp"

#include <cstring>

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "base/strings.hpp"
#include "db/database.hpp"
#include "db/identifiers.hpp"
#include "db/schema.hpp"
#include "shm/table.hpp"
#include "svc/services.hpp"

namespace ppolicy {
namespace {

// Room the shared-memory key gets; the rest of the slot is for the value.
constexpr size_t k_shm_key_max = 240;
constexpr size_t k_sql_key_max = 255;
constexpr size_t k_sql_value_max = 1024;

class ShmStore final : public RecordStore {
 public:
  explicit ShmStore(const std::string& instance) : d_prefix("R\n" + instance + "\n") {}

  bool update(Services& sv, Deadline, const std::string& key, const Fn& fn,
              std::string& error) override {
    ShmTable* t = sv.records();
    if (!t) return error = "no shared memory", false;
    uint32_t now = sv.now();
    // The prefixed key on the stack when it fits (every DOS and Trap call).
    char buf[k_shm_key_max];
    std::string long_key;
    std::string_view k;
    if (d_prefix.size() + key.size() <= sizeof buf) {
      std::memcpy(buf, d_prefix.data(), d_prefix.size());
      std::memcpy(buf + d_prefix.size(), key.data(), key.size());
      k = std::string_view(buf, d_prefix.size() + key.size());
    } else {
      long_key = bounded_key(d_prefix + key, k_shm_key_max);
      k = long_key;
    }
    bool ok = t->update(k, now, [&](std::string& v, uint32_t& expire, bool found) {
      return fn(v, expire, found, now);
    });
    if (!ok) error = "record does not fit a shared-memory slot";
    return ok;
  }

  bool get(Services& sv, Deadline, const std::string& key, std::string& value, bool& found,
           uint32_t& now, std::string& error) override {
    ShmTable* t = sv.records();
    if (!t) return error = "no shared memory", false;
    now = sv.now();
    found = t->get(bounded_key(d_prefix + key, k_shm_key_max), value, now);
    return true;
  }

  size_t max_value(size_t) const override { return ShmTable::k_max_entry - k_shm_key_max; }

 private:
  std::string d_prefix;
};

class MysqlStore final : public RecordStore {
 public:
  MysqlStore(std::string instance, std::string table, std::string who)
      : d_instance(std::move(instance)), d_table(std::move(table)), d_who(std::move(who)) {
    const char* t = d_table.c_str();
    d_ensure = format(
        "INSERT INTO `%s` (name, k, v, expire) VALUES (?, ?, '', 0) "
        "ON DUPLICATE KEY UPDATE expire = expire",
        t);
    d_lock = format(
        "SELECT v, expire, UNIX_TIMESTAMP() FROM `%s` WHERE name = ? AND k = ? FOR UPDATE", t);
    d_read = format("SELECT v, expire, UNIX_TIMESTAMP() FROM `%s` WHERE name = ? AND k = ?", t);
    d_write = format("UPDATE `%s` SET v = ?, expire = ? WHERE name = ? AND k = ?", t);
    d_delete = format("DELETE FROM `%s` WHERE name = ? AND k = ?", t);
  }

  bool update(Services& sv, Deadline deadline, const std::string& key, const Fn& fn,
              std::string& error) override {
    std::string k = bounded_key(key, k_sql_key_max);
    return sv.resource<Database>().run(
        deadline,
        [&](DbConnection& c) {
          c.begin();
          auto& ensure = c.prepare(d_ensure);
          bind(ensure, k, 1);
          ensure.executeUpdate();
          auto& lock = c.prepare(d_lock);
          bind(lock, k, 1);
          std::unique_ptr<sql::ResultSet> rs(lock.executeQuery());
          if (!rs->next()) throw std::runtime_error("record row vanished inside its transaction");
          std::string value = db_string(*rs, 1);
          uint32_t expire = rs->getUInt(2), now = rs->getUInt(3);
          rs.reset();
          bool found = expire > now;
          if (!found) value.clear();
          bool store = fn(value, expire, found, now);
          if (store && value.size() > k_sql_value_max) throw std::runtime_error("record too large");
          if ((store && value.empty()) || (!store && !found)) {
            auto& del = c.prepare(d_delete);  // erased, or our placeholder
            bind(del, k, 1);
            del.executeUpdate();
          } else if (store) {
            auto& w = c.prepare(d_write);
            w.setString(1, value);
            w.setUInt(2, expire);
            bind(w, k, 3);
            w.executeUpdate();
          }
        },
        error);
  }

  bool get(Services& sv, Deadline deadline, const std::string& key, std::string& value, bool& found,
           uint32_t& now, std::string& error) override {
    std::string k = bounded_key(key, k_sql_key_max);
    return sv.resource<Database>().run(
        deadline,
        [&](DbConnection& c) {
          auto& read = c.prepare(d_read);
          bind(read, k, 1);
          std::unique_ptr<sql::ResultSet> rs(read.executeQuery());
          found = false;
          value.clear();
          if (rs->next()) {
            now = rs->getUInt(3);
            found = rs->getUInt(2) > now;
            if (found) value = db_string(*rs, 1);
          } else {
            // No row: the store's clock is still the server's.
            std::unique_ptr<sql::ResultSet> t(c.prepare("SELECT UNIX_TIMESTAMP()").executeQuery());
            now = t->next() ? t->getUInt(1) : 0;
          }
        },
        error);
  }

  size_t max_value(size_t) const override { return k_sql_value_max; }

  void prepare(Services& services) override {
    with_admin_connection(services.config(), d_who, [&](DbConnection& c, const DbSettings& s) {
      ensure_tables(c, s, {record_table(d_table)}, d_who);
    });
  }

  void maintain(Services& services) override {
    with_admin_connection(services.config(), d_who, [&](DbConnection& c, const DbSettings& s) {
      if (ensure_tables(c, s, {record_table(d_table)}, d_who))
        expire_rows(c, d_table, "expire", ExpiryColumn::unix_seconds);
    });
  }

 private:
  void bind(sql::PreparedStatement& st, const std::string& k, int first) {
    st.setString(first, d_instance);
    st.setString(first + 1, k);
  }

  std::string d_instance, d_table, d_who;
  std::string d_ensure, d_lock, d_read, d_write, d_delete;
};

}  // namespace

std::unique_ptr<RecordStore> make_shm_store(const std::string& instance) {
  return std::make_unique<ShmStore>(instance);
}

std::unique_ptr<RecordStore> make_mysql_store(const std::string& instance, const std::string& table,
                                              const std::string& who) {
  return std::make_unique<MysqlStore>(instance, table, who);
}

TableDef record_table(const std::string& table) {
  return {table, format("CREATE TABLE IF NOT EXISTS `%s` (\n"
                        "  name VARBINARY(64) NOT NULL,\n"
                        "  k VARBINARY(255) NOT NULL,\n"
                        "  v VARBINARY(1024) NOT NULL,\n"
                        "  expire INT UNSIGNED NOT NULL,\n"
                        "  PRIMARY KEY (name, k),\n"
                        "  KEY expire (expire)\n"
                        ") ENGINE=InnoDB",
                        table.c_str())};
}

}  // namespace ppolicy
