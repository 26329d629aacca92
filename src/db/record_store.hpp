// SPDX-License-Identifier: GPL-2.0-or-later
// Small records with an expiry, keyed by (module instance, key), changed by
// atomic read-modify-write: the state of DOS windows and Trap hits.
//
//   store = shm    the shared-memory records table (ShmTable::update(): the
//                  stripe lock makes read-modify-write atomic across
//                  workers; crash-safe; bounded, expired entries swept by
//                  the master). One host.
//   store = mysql  a table shared by every host using the database. One
//                  transaction per change: the row is created if missing
//                  (INSERT ... ON DUPLICATE KEY UPDATE, so concurrent first
//                  requests meet on one row, never a gap lock), locked and
//                  read (SELECT ... FOR UPDATE), rewritten, committed: no
//                  check-then-update race between workers or hosts. Times
//                  are the database server's clock. The maintenance process
//                  deletes expired rows in batches.
// Worker side (update/get), master (prepare: create the table) and the
// maintenance process (maintain: expiry).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "base/clock.hpp"

namespace ppolicy {

class Services;
struct TableDef;

class RecordStore {
 public:
  virtual ~RecordStore() = default;

  // fn(value, expire, found, now): `found` is false when there is no live
  // record (value "" then); return true to store `value` with `expire`
  // (absolute seconds; an empty value deletes the record).
  // A reference to the caller's callable, not a copy: update() calls it
  // before it returns. (std::function allocated for the lambda of every
  // DOS and Trap call.)
  class Fn {
   public:
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Fn>>>
    Fn(F&& f)  // NOLINT: implicit, like std::function
        : d_obj(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          d_call([](void* o, std::string& v, uint32_t& e, bool found, uint32_t now) -> bool {
            return (*static_cast<std::remove_reference_t<F>*>(o))(v, e, found, now);
          }) {}
    bool operator()(std::string& value, uint32_t& expire, bool found, uint32_t now) const {
      return d_call(d_obj, value, expire, found, now);
    }

   private:
    void* d_obj;
    bool (*d_call)(void*, std::string&, uint32_t&, bool, uint32_t);
  };
  virtual bool update(Services& sv, Deadline deadline, const std::string& key, const Fn& fn,
                      std::string& error) = 0;
  // Read without changing; `now` is the store's clock.
  virtual bool get(Services& sv, Deadline deadline, const std::string& key, std::string& value,
                   bool& found, uint32_t& now, std::string& error) = 0;
  // Largest value this store can keep for a key of `key_size` bytes.
  virtual size_t max_value(size_t key_size) const = 0;

  virtual void prepare(Services&) {}
  virtual void maintain(Services&) {}
};

// `instance` namespaces the records; `table` is used by the MySQL store
// (validated identifier); `who` names the module in log messages.
std::unique_ptr<RecordStore> make_shm_store(const std::string& instance);
std::unique_ptr<RecordStore> make_mysql_store(const std::string& instance, const std::string& table,
                                              const std::string& who);

// The layout of a MySQL record table (for sql/ppolicy.sql and ensure_tables).
TableDef record_table(const std::string& table);

}  // namespace ppolicy
