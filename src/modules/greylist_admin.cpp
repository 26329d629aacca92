// SPDX-License-Identifier: GPL-2.0-or-later
// Greylist's live state commands (see greylist_admin.hpp): the same records
// the module's check() keeps, read and changed from the control child.
#include "modules/greylist_admin.hpp"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "base/strings.hpp"
#include "db/database.hpp"
#include "db/identifiers.hpp"
#include "shm/table.hpp"

namespace ppolicy {
namespace {

constexpr int k_show_max = 50;

Deadline admin_deadline() {
  return SteadyClock::now() + std::chrono::seconds(10);
}

AdminRecord show_record(const Triplet& tr, const GreyRecord& r, const GreyTiming& timing,
                        uint32_t now) {
  uint32_t ready = r.first_seen + timing.delay;
  bool passed = r.state == 1;
  return {{"kind", "greylist"},
          {"triplet", tr.sender + "," + tr.recipient + "," + tr.client},
          {"state", passed         ? "passed"
                    : now >= ready ? "ready"
                                   : "waiting"},
          {"wait", std::to_string(passed || now >= ready ? 0 : ready - now)},
          {"tries", std::to_string(r.tries)},
          {"passes", std::to_string(r.passes)},
          {"expires_in", std::to_string(r.expire > now ? r.expire - now : 0)}};
}

bool matches(const Triplet& tr, const Triplet& want, GreyField field) {
  switch (field) {
    case GreyField::triplet:
      return tr.sender == want.sender && tr.recipient == want.recipient && tr.client == want.client;
    case GreyField::sender:
      return tr.sender == want.sender;
    case GreyField::recipient:
      return tr.recipient == want.recipient;
    case GreyField::client:
      return tr.client == want.client;
  }
  return false;
}

}  // namespace

bool grey_subject(const AdminSubject& s, int v4_bits, int v6_bits, Triplet& tr, GreyField& field) {
  std::string sender = s.sender == "<>" ? "" : s.sender.empty() ? "x@x.invalid" : s.sender;
  bool domain = s.client.size() > 1 && s.client[0] == '@';
  if (make_triplet(sender, s.recipient.empty() ? "x" : s.recipient,
                   s.client.empty() || domain ? "127.0.0.1" : s.client, v4_bits, v6_bits,
                   tr) != TripletProblem::none)
    return false;
  if (domain) tr.client = bounded_key(lower(s.client), 50);
  tr.sender = bounded_key(tr.sender, 255);
  tr.recipient = bounded_key(tr.recipient, 255);
  field = !s.sender.empty() && !s.recipient.empty() && !s.client.empty() ? GreyField::triplet
          : !s.client.empty()                                            ? GreyField::client
          : !s.sender.empty()                                            ? GreyField::sender
                                                                         : GreyField::recipient;
  return true;
}

std::string grey_shm_key(const std::string& name, const Triplet& tr) {
  return bounded_key("G\n" + name + "\n" + tr.sender + "\n" + tr.recipient + "\n" + tr.client,
                     ShmTable::k_max_entry - 17 - 8);
}

void grey_show_shm(ShmTable& records, uint32_t now, const std::string& name,
                   const GreyTiming& timing, const Triplet& want, GreyField field,
                   std::vector<AdminRecord>& out) {
  std::string prefix = "G\n" + name + "\n";
  int n = 0;
  records.for_each(now, [&](std::string_view k, std::string_view v, uint32_t) {
    if (n >= k_show_max || k.substr(0, prefix.size()) != prefix) return;
    auto parts = split(k.substr(prefix.size()), "\n");
    GreyRecord rec;
    if (parts.size() != 3 || !decode_grey(v, rec)) return;
    Triplet tr{parts[0], parts[1], parts[2]};
    if (!matches(tr, want, field)) return;
    ++n;
    out.push_back(show_record(tr, rec, timing, now));
  });
}

bool grey_show_mysql(Services& sv, const std::string& table, const GreyTiming& timing,
                     const Triplet& want, GreyField field, std::vector<AdminRecord>& out,
                     std::string& error) {
  const char* where = field == GreyField::triplet  ? "sender = ? AND recipient = ? AND client = ?"
                      : field == GreyField::sender ? "sender = ?"
                      : field == GreyField::recipient ? "recipient = ?"
                                                      : "client = ?";
  std::string sql = format(
      "SELECT sender, recipient, client, state, first_seen, expire, tries, passes, "
      "UNIX_TIMESTAMP() FROM `%s` WHERE %s AND expire > UNIX_TIMESTAMP() LIMIT %d",
      table.c_str(), where, k_show_max);
  return sv.resource<Database>().run(
      admin_deadline(),
      [&](DbConnection& c) {
        auto& st = c.prepare(sql);
        if (field == GreyField::triplet) {
          st.setString(1, want.sender);
          st.setString(2, want.recipient);
          st.setString(3, want.client);
        } else {
          st.setString(1, field == GreyField::sender      ? want.sender
                          : field == GreyField::recipient ? want.recipient
                                                          : want.client);
        }
        std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
        while (rs->next()) {
          Triplet tr{rs->getString(1), rs->getString(2), rs->getString(3)};
          GreyRecord rec;
          rec.state = static_cast<uint8_t>(rs->getInt(4));
          rec.first_seen = rs->getUInt(5);
          rec.expire = rs->getUInt(6);
          rec.tries = rs->getUInt(7);
          rec.passes = rs->getUInt(8);
          out.push_back(show_record(tr, rec, timing, rs->getUInt(9)));
        }
      },
      error);
}

bool grey_release_shm(ShmTable& records, uint32_t now, const std::string& name,
                      const GreyTiming& timing, const Triplet& tr) {
  return records.update(grey_shm_key(name, tr), now,
                        [&](std::string& v, uint32_t& expire, bool found) {
                          GreyRecord rec;
                          if (!found || !decode_grey(v, rec)) rec.first_seen = now;
                          rec.state = 1;
                          rec.expire = now + timing.expiration;
                          v = encode_grey(rec);
                          expire = rec.expire;
                          return true;
                        });
}

bool grey_release_mysql(Services& sv, const std::string& table, const GreyTiming& timing,
                        const Triplet& tr, std::string& error) {
  // As a retry after the delay would: passed, valid for `expiration`.
  std::string sql = format(
      "INSERT INTO `%s` (sender, recipient, client, first_seen, last_seen, expire, state, "
      "last_result, tries, passes) VALUES (?, ?, ?, UNIX_TIMESTAMP(), UNIX_TIMESTAMP(), "
      "UNIX_TIMESTAMP() + ?, 1, 1, 0, 0) ON DUPLICATE KEY UPDATE state = 1, last_result = 1, "
      "expire = UNIX_TIMESTAMP() + ?",
      table.c_str());
  return sv.resource<Database>().run(
      admin_deadline(),
      [&](DbConnection& c) {
        auto& st = c.prepare(sql);
        st.setString(1, tr.sender);
        st.setString(2, tr.recipient);
        st.setString(3, tr.client);
        st.setUInt(4, timing.expiration);
        st.setUInt(5, timing.expiration);
        st.executeUpdate();
      },
      error);
}

}  // namespace ppolicy
