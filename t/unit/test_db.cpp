// SPDX-License-Identifier: GPL-2.0-or-later
// The storage-free parts of the database layer and its modules:
// identifiers and mappings, greylist triplets and state machine, DOS
// windows, trap hits, cartesian products, ListMailDomain's search list,
// cacheAll snapshot files, and the error classification.
#include <unistd.h>
#include <boost/test/unit_test.hpp>

#include <cstdlib>

#include "conf/error.hpp"
#include "conf/settings.hpp"
#include "db/database.hpp"
#include "db/identifiers.hpp"
#include "db/snapshot.hpp"
#include "modules/bw_lists.hpp"
#include "modules/greylist_logic.hpp"
#include "modules/param_values.hpp"
#include "modules/rate_logic.hpp"

using namespace ppolicy;

BOOST_AUTO_TEST_SUITE(db)

BOOST_AUTO_TEST_CASE(identifiers) {
  for (const char* ok : {"greylist", "_x", "t$1", "Dump2026"})
    BOOST_TEST(valid_identifier(ok), ok);
  for (const char* bad : {"", "1abc", "a-b", "a.b", "a`b", "a b", "x');DROP TABLE t;--"})
    BOOST_TEST(!valid_identifier(bad), bad);
  BOOST_TEST(!valid_identifier(std::string(65, 'a')));
  BOOST_TEST(quote_ident("list") == "`list`");
  BOOST_CHECK_THROW(checked_identifier("no good", "table"), KeyError);
}

BOOST_AUTO_TEST_CASE(sql_types) {
  struct {
    const char* in;
    const char* want;
  } cases[] = {{"varchar(50)", "VARCHAR(50)"},
               {" VARCHAR (255) ", "VARCHAR(255)"},
               {"int unsigned", "INT UNSIGNED"},
               {"bigint", "BIGINT"},
               {"text", "TEXT"},
               {"decimal(10, 2)", "DECIMAL(10,2)"},
               {"datetime", "DATETIME"},
               {"varchar(0)", ""},
               {"varchar(50); drop", ""},
               {"ENUM('a')", ""},
               {"", ""}};
  for (const auto& c : cases)
    BOOST_TEST(canonical_sql_type(c.in) == c.want, c.in);
  BOOST_TEST(keyable_sql_type("VARCHAR(50)"));
  BOOST_TEST(!keyable_sql_type("TEXT"));
}

BOOST_AUTO_TEST_CASE(mappings) {
  auto m = parse_mapping("sender:mail VARCHAR(50), recip:rmail, client_address, n:num DECIMAL(5,1)",
                         "mapping");
  BOOST_TEST_REQUIRE(m.size() == 4u);
  BOOST_TEST(m[0].name == "sender");
  BOOST_TEST(m[0].column == "mail");
  BOOST_TEST(m[0].type == "VARCHAR(50)");
  BOOST_TEST(m[1].column == "rmail");
  BOOST_TEST(m[1].type == "VARCHAR(255)");
  BOOST_TEST(m[2].column == "client_address");
  BOOST_TEST(m[3].type == "DECIMAL(5,1)");
  BOOST_TEST(mapped(m, "recip").column == "rmail");
  BOOST_TEST(mapped(m, "other").column == "other");
  BOOST_TEST(parse_mapping("", "mapping").empty());
  for (const char* bad : {"a:b c d", "a:b-c", ":x", "a:b, a:c", "a:b TEXT; DROP"})
    BOOST_CHECK_THROW(parse_mapping(bad, "mapping"), KeyError);
}

BOOST_AUTO_TEST_CASE(bounded_keys) {
  BOOST_TEST(bounded_key("short", 10) == "short");
  std::string a(300, 'a'), b = a;
  b.back() = 'b';
  BOOST_TEST(bounded_key(a, 100).size() == 100u);
  BOOST_TEST(bounded_key(a, 100) != bounded_key(b, 100));
}

BOOST_AUTO_TEST_CASE(sender_normalisation) {
  struct {
    const char* in;
    const char* want;
  } cases[] = {
      {"Alice@Example.TEST", "alice@example.test"},
      {"alice+news@example.test", "alice@example.test"},
      {"prvs=0123456789=bob@example.test", "bob@example.test"},
      {"msprvs1=19123abcd=bob@example.test", "bob@example.test"},
      {"btv1==1234567890==bob@example.test", "bob@example.test"},
      {"SRS0=HHH=TT=orig.example=carol@fwd.example", "carol@orig.example"},
      {"SRS0+HHH=TT=orig.example=carol@fwd.example", "carol@orig.example"},
      {"SRS1=HHH=fwd1.example==HHH=TT=orig.example=carol@fwd2.example", "carol@orig.example"},
      {"list-bounces-bob=example.org@lists.example", "list-bounces@lists.example"},
      {"bounce-4711-abc@mailer.example", "bounce-#-abc@mailer.example"},
      {"4711@mailer.example", "#@mailer.example"},
      {"user123@example.test", "user123@example.test"},
      {"a.12.b@example.test", "a.#.b@example.test"},
      {"+only@example.test", "+only@example.test"},
  };
  for (const auto& c : cases)
    BOOST_TEST(normalise_sender(c.in) == c.want, c.in);
}

BOOST_AUTO_TEST_CASE(triplets) {
  Triplet t;
  BOOST_TEST((make_triplet("Bob+x@Example.test", "Rcpt@Example.ORG", "192.0.2.77", 24, 64, t) ==
              TripletProblem::none));
  BOOST_TEST(t.sender == "bob@example.test");
  BOOST_TEST(t.recipient == "rcpt@example.org");
  BOOST_TEST(t.client == "192.0.2.0/24");
  BOOST_TEST((make_triplet("", "rcpt@example.org", "2001:db8:1:2:3::4", 24, 48, t) ==
              TripletProblem::none));
  BOOST_TEST(t.sender == "<>");
  BOOST_TEST(t.recipient == "");
  BOOST_TEST(t.client == "2001:db8:1::/48");
  BOOST_TEST((make_triplet("no-at", "r@x", "192.0.2.1", 24, 64, t) == TripletProblem::bad_sender));
  BOOST_TEST((make_triplet("a@", "r@x", "192.0.2.1", 24, 64, t) == TripletProblem::bad_sender));
  BOOST_TEST((make_triplet("a@b", "r@x", "unknown", 24, 64, t) == TripletProblem::bad_client));
  BOOST_TEST(is_postmaster("PostMaster@example.org"));
  BOOST_TEST(is_postmaster("postmaster"));
  BOOST_TEST(!is_postmaster("postmaster2@example.org"));
}

BOOST_AUTO_TEST_CASE(greylist_state_machine) {
  GreyTiming t{600, 3600, 86400};
  GreyRecord r;
  auto step = [&](bool found, uint32_t now) { return grey_step(r, found, now, t); };
  GreyOutcome o = step(false, 1000);
  BOOST_TEST(o.code == -1);
  BOOST_TEST(o.wait == 600u);
  BOOST_TEST(o.fresh);
  o = step(true, 1300);  // early retry: remaining wait, delay not restarted
  BOOST_TEST(o.code == -1);
  BOOST_TEST(o.wait == 300u);
  BOOST_TEST(r.first_seen == 1000u);
  o = step(true, 1600);  // after the delay: passes
  BOOST_TEST(o.code == 1);
  BOOST_TEST(r.state == 1);
  BOOST_TEST(r.expire == 1600u + 86400u);
  o = step(true, 50000);  // passes again, expiry slides
  BOOST_TEST(o.code == 1);
  BOOST_TEST(r.expire == 50000u + 86400u);
  BOOST_TEST(r.passes == 2u);
  o = step(true, 50000 + 86400);  // expired pass: starts over
  BOOST_TEST(o.code == -1);
  BOOST_TEST(o.wait == 600u);
  BOOST_TEST(r.state == 0);
  // mustRetry: a retry after first_seen + mustRetry starts over.
  GreyRecord late;
  grey_step(late, false, 0, t);
  o = grey_step(late, true, 3600, t);
  BOOST_TEST(o.code == -1);
  BOOST_TEST(o.fresh);
  BOOST_TEST(late.first_seen == 3600u);
  o = grey_step(late, true, 3599 + 600, t);
  BOOST_TEST(o.code == -1);
  BOOST_TEST(o.wait == 1u);
  BOOST_TEST(grey_step(late, true, 4200, t).code == 1);
  // Encoding round trip.
  GreyRecord back;
  BOOST_TEST(decode_grey(encode_grey(r), back));
  BOOST_TEST(back.first_seen == r.first_seen);
  BOOST_TEST(back.expire == r.expire);
  BOOST_TEST(back.state == r.state);
  BOOST_TEST(!decode_grey("short", back));
}

BOOST_AUTO_TEST_CASE(dos_window) {
  WindowSpec spec = window_spec(100, 10);  // 10 buckets of 10 s
  BOOST_TEST(spec.width == 10u);
  Window w;
  uint32_t expire = 0;
  // Limit 6: six messages at t=1000 pass, the seventh is over.
  for (int i = 1; i <= 6; ++i) {
    DosOutcome o = dos_step(w, i > 1, spec, 1000, 1000, 6, false, expire);
    BOOST_TEST(!o.over);
    BOOST_TEST(o.count == uint64_t(i) * 1000);
  }
  DosOutcome o = dos_step(w, true, spec, 1001, 1000, 6, false, expire);
  BOOST_TEST(o.over);
  BOOST_TEST(o.count == 7000u);
  o = dos_step(w, true, spec, 1002, 1000, 6, false, expire);
  BOOST_TEST(o.over);
  BOOST_TEST(o.count == 7000u);  // not counted while over
  // 25 s later (the original reset here): still over.
  o = dos_step(w, true, spec, 1025, 1000, 6, false, expire);
  BOOST_TEST(o.over);
  // The bucket of t=1000 leaves the window at 1100.
  o = dos_step(w, true, spec, 1099, 1000, 6, false, expire);
  BOOST_TEST(o.over);
  o = dos_step(w, true, spec, 1100, 1000, 6, false, expire);
  BOOST_TEST(!o.over);
  BOOST_TEST(o.count == 1000u);
  BOOST_TEST(expire == (110u + 10u) * 10u + 1u);
  // countOver counts blocked requests too; fractions.
  Window x;
  dos_step(x, false, spec, 0, 1000, 1, true, expire);
  dos_step(x, true, spec, 0, 1000, 1, true, expire);
  BOOST_TEST(dos_step(x, true, spec, 0, 250, 1, true, expire).count == 2250u);
  // Encoding: a window of another granularity is void.
  Window back;
  BOOST_TEST(decode_window(encode_window(w), spec, back));
  BOOST_TEST(back.newest == w.newest);
  BOOST_TEST(!decode_window(encode_window(w), window_spec(100, 5), back));
}

BOOST_AUTO_TEST_CASE(trap_hits) {
  struct {
    long treshold;
    size_t traps, want;
  } t[] = {{-2, 1, 1}, {-2, 2, 1}, {-2, 3, 1}, {-2, 4, 2}, {-2, 5, 2}, {3, 1, 3}, {-1, 4, 4}};
  for (const auto& c : t)
    BOOST_TEST(trap_threshold(c.treshold, c.traps) == c.want);
  std::vector<uint32_t> hits;
  trap_hit(hits, 100, 50, 2);
  trap_hit(hits, 110, 50, 2);
  trap_hit(hits, 120, 50, 2);
  BOOST_TEST(hits == std::vector<uint32_t>({160, 170}));  // the newest two
  live_hits(hits, 165);
  BOOST_TEST(hits == std::vector<uint32_t>({170}));
  BOOST_TEST(decode_hits(encode_hits(hits)) == hits);
}

BOOST_AUTO_TEST_CASE(cartesian_products) {
  auto c = cartesian({{"a", "b"}, {"c", "d"}});
  BOOST_TEST_REQUIRE(c.size() == 4u);
  BOOST_TEST(c[0] == std::vector<std::string>({"a", "c"}));
  BOOST_TEST(c[1] == std::vector<std::string>({"a", "d"}));
  BOOST_TEST(c[3] == std::vector<std::string>({"b", "d"}));
  BOOST_TEST(cartesian({{"x"}}).size() == 1u);
  std::vector<std::vector<std::string>> big(9, std::vector<std::string>{"1", "2"});
  BOOST_TEST(cartesian(big).empty());  // 512 > 256
  std::string k1, k2;
  append_key(k1, {{"a,b"}});
  append_key(k2, {{"a", "b"}});
  BOOST_TEST(k1 != k2);
}

BOOST_AUTO_TEST_CASE(mail_domain_search_list) {
  using V = std::vector<std::string>;
  BOOST_TEST(mail_domain_candidates("john+x@mail.example.com") ==
             V({"john+x@mail.example.com", "john@mail.example.com", "john+x", "john",
                "@mail.example.com", "@.mail.example.com", "@.example.com", "@.com", "@."}));
  BOOST_TEST(mail_domain_candidates("john@example.com") ==
             V({"john@example.com", "john", "@example.com", "@.example.com", "@.com", "@."}));
  BOOST_TEST(mail_domain_candidates("host.example.com") ==
             V({"@.host.example.com", "@.example.com", "@.com", "@."}));
  BOOST_TEST(mail_domain_candidates("") == V({"@."}));
}

BOOST_AUTO_TEST_CASE(snapshot_files) {
  char dir[] = "/tmp/ppsnap.XXXXXX";
  BOOST_TEST_REQUIRE(mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/t.snap";
  std::vector<SnapshotRow> rows;
  for (int i = 0; i < 1000; ++i)
    rows.push_back({"key" + std::to_string(i),
                    {std::to_string(i * 2), i % 3 ? std::optional<std::string>() : "x"}});
  rows.push_back({"key5", {"dup", "dup"}});  // a duplicate: the first one wins
  std::string error;
  BOOST_TEST_REQUIRE(write_snapshot(path, 42, {"double", "maybe"}, rows, error), error);
  BOOST_TEST(snapshot_age(path, 42) >= 0);
  BOOST_TEST(snapshot_age(path, 43) == -1);
  SnapshotReader r(path, 42, 3600);
  BOOST_TEST_REQUIRE(r.available(time(nullptr)));
  BOOST_TEST(r.columns() == std::vector<std::string>({"double", "maybe"}));
  std::vector<std::optional<std::string>> v;
  BOOST_TEST(r.find("key5", v));
  BOOST_TEST(*v[0] == "10");
  BOOST_TEST(!v[1].has_value());
  BOOST_TEST(r.find("key999", v));
  BOOST_TEST(*v[0] == "1998");
  BOOST_TEST(r.find("key0", v));
  BOOST_TEST(*v[1] == "x");
  BOOST_TEST(!r.find("key1000", v));
  BOOST_TEST(!r.find("", v));
  SnapshotReader other(path, 7, 3600);
  BOOST_TEST(!other.available(time(nullptr)));  // another table's fingerprint
  SnapshotReader old(path, 42, 10);
  BOOST_TEST(!old.available(time(nullptr) + 60));  // too old to be used
  unlink(path.c_str());
  rmdir(dir);
}

BOOST_AUTO_TEST_CASE(error_classes) {
  BOOST_TEST((classify_db_error(2006) == DbFailure::lost));
  BOOST_TEST((classify_db_error(2013) == DbFailure::lost));
  BOOST_TEST((classify_db_error(2030) == DbFailure::lost));
  BOOST_TEST((classify_db_error(2003) == DbFailure::connect));
  BOOST_TEST((classify_db_error(1045) == DbFailure::connect));
  BOOST_TEST((classify_db_error(1213) == DbFailure::deadlock));
  BOOST_TEST((classify_db_error(1146) == DbFailure::statement));
  // A Galera node that left the primary component: fail over.
  BOOST_TEST((classify_db_error(1047) == DbFailure::lost));
}

// `[database] host` as a list: the client library once got the whole text
// and took " 127.0.0.1" (after ", ") for an unknown host.
BOOST_AUTO_TEST_CASE(server_lists) {
  DbSettings s;
  s.port = 3306;
  s.database = "pp";
  std::string why;
  BOOST_TEST(parse_db_servers(" 127.0.0.1:3307 ,127.0.0.2, db.example.test:1 ", s.servers, &why));
  BOOST_TEST(s.server_count() == 3u);
  BOOST_TEST(s.endpoint(0) == "tcp://127.0.0.1:3307");
  BOOST_TEST(s.endpoint(1) == "tcp://127.0.0.2:3306");
  BOOST_TEST(s.where(2) == "db.example.test:1/pp");
  BOOST_TEST(s.where() == "127.0.0.1:3307,127.0.0.2:3306,db.example.test:1/pp");
  BOOST_TEST(parse_db_servers("[::1]:3310, ::1, /run/mysqld/mysqld.sock", s.servers, &why));
  BOOST_TEST(s.endpoint(0) == "tcp://[::1]:3310");
  BOOST_TEST(s.endpoint(1) == "tcp://[::1]:3306");
  BOOST_TEST(s.endpoint(2) == "unix:///run/mysqld/mysqld.sock");
  s.socket = "/tmp/s.sock";  // the socket key alone wins
  BOOST_TEST(s.server_count() == 1u);
  BOOST_TEST(s.endpoint(0) == "unix:///tmp/s.sock");
  for (const char* bad : {"", " , ", "a:0", "a:70000", "a:x", "[::1", "[::1]x", "a b:1"})
    BOOST_TEST(!parse_db_servers(bad, s.servers, &why), bad);
}

BOOST_AUTO_TEST_SUITE_END()
