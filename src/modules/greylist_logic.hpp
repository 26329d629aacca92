// SPDX-License-Identifier: GPL-2.0-or-later
// Greylisting without storage: how a request becomes a triplet and how a
// triplet's record moves through its states. Both stores of the Greylist
// module (MySQL and shared memory) run this same state machine, so hosts
// and stores agree. Pure functions (unit-tested).
//
// Triplet: (sender, recipient, client network).
//   sender     lower-cased and normalised so that per-message variations of
//              one sender map to one key:
//                BATV  prvs=TAG=user@d, msprvs1=TAG=user@d, btv1==TAG==user@d
//                      -> user@d
//                SRS   SRS0=HH=TT=orig.domain=user@fwd (also SRS0+/SRS0-),
//                      SRS1=HH=fwd==HH=TT=orig.domain=user@fwd -> user@orig.domain
//                +ext  user+anything@d -> user@d
//                VERP  list-bounces-bob=example.org@d -> list-bounces@d
//                      (a '-'-separated tail holding '=' is dropped)
//                numbers  every all-digit word of the local part becomes
//                      '#': bounce-4711-x@d -> bounce-#-x@d
//   recipient  lower-cased, otherwise as sent.
//   client     the client address reduced to its IPv4 (/24) or IPv6 (/64)
//              network, e.g. "192.0.2.0/24".
// The null sender <> is greylisted on the client network only (sender "<>",
// recipient ""): bounces and callout probes come from real MTAs, which
// retry; once one retried, its later bounces are not delayed again.
//
// States: waiting (first seen at F) and passed.
//   no record, or record expired   -> new waiting record (F = now), -1,
//                                     wait = delay; it expires at F + mustRetry
//   waiting, now < F + delay       -> -1, wait = F + delay - now (an early
//                                     retry does not restart the delay)
//   waiting, F + delay <= now < F + mustRetry
//                                  -> passed, 1; valid for `expiration`
//   waiting, now >= F + mustRetry  -> too late: starts over (new waiting)
//   passed, before its expiry      -> 1, and the expiry slides to now + expiration
//   passed, expired                -> starts over
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ppolicy {

struct GreyTiming {
  uint32_t delay = 600;
  uint32_t must_retry = 43200;
  uint32_t expiration = 2678400;
};

struct GreyRecord {
  uint32_t first_seen = 0;  // start of the current waiting period
  uint32_t expire = 0;      // the record is void from then on
  uint32_t tries = 0;       // requests seen for this record
  uint32_t passes = 0;      // requests that passed
  uint8_t state = 0;        // 0 waiting, 1 passed
};

struct GreyOutcome {
  int code = 0;        // 1 pass, -1 greylisted
  uint32_t wait = 0;   // seconds until a retry passes (0 when passed)
  bool fresh = false;  // a new waiting period started
};

// Apply one request at `now` to the record (`found`: a record existed).
GreyOutcome grey_step(GreyRecord& record, bool found, uint32_t now, const GreyTiming& timing);

// Binary form for the shared-memory store.
std::string encode_grey(const GreyRecord& r);
bool decode_grey(std::string_view blob, GreyRecord& r);

// The normalised sender (see above) of an address containing '@'.
std::string normalise_sender(std::string_view sender);

// Triplet parts of a request. Problems: a sender without '@' or without a
// domain (not the null sender): bad_sender; a client address that is no IP
// address: bad_client.
struct Triplet {
  std::string sender, recipient, client;
};
enum class TripletProblem { none, bad_sender, bad_client };
TripletProblem make_triplet(std::string_view sender, std::string_view recipient,
                            std::string_view client_address, int v4_bits, int v6_bits,
                            Triplet& out);

// Recipient postmaster (any domain, or bare).
bool is_postmaster(std::string_view recipient);

}  // namespace ppolicy
