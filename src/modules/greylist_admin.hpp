// SPDX-License-Identifier: GPL-2.0-or-later
// Greylist's part of the live state commands (ppolicyd -C show / release;
// run in the master's control child, core/control_cmds.cpp): read the
// triplets kept about a subject and let one pass, in either store. The
// Greylist module (greylist.cpp) owns the names, tables and timing and
// calls these; they never run on a request's path.
#pragma once

#include <string>
#include <vector>

#include "modules/greylist_logic.hpp"
#include "modules/module.hpp"

namespace ppolicy {

class ShmTable;

// Which part of a triplet a subject names: all three, or one alone.
enum class GreyField { triplet, sender, recipient, client };

// A subject as a (normalised, bounded) triplet; parts not given are
// placeholders and `field` says which part to match. A client "@domain" is
// a domain subject (domainSubject) as the module stores it. False: the
// subject is no address the module could have seen.
bool grey_subject(const AdminSubject& s, int v4_bits, int v6_bits, Triplet& tr, GreyField& field);

// The shared-memory key of a triplet of module `name` (store = shm).
std::string grey_shm_key(const std::string& name, const Triplet& tr);

// Append a "greylist" record for each kept triplet matching `want` (at most
// 50 for a part alone).
void grey_show_shm(ShmTable& records, uint32_t now, const std::string& name,
                   const GreyTiming& timing, const Triplet& want, GreyField field,
                   std::vector<AdminRecord>& out);
bool grey_show_mysql(Services& sv, const std::string& table, const GreyTiming& timing,
                     const Triplet& want, GreyField field, std::vector<AdminRecord>& out,
                     std::string& error);

// The triplet passes from now on, for `expiration` (a record is created
// when none was kept: a release ahead of the first mail works too).
bool grey_release_shm(ShmTable& records, uint32_t now, const std::string& name,
                      const GreyTiming& timing, const Triplet& tr);
bool grey_release_mysql(Services& sv, const std::string& table, const GreyTiming& timing,
                        const Triplet& tr, std::string& error);

}  // namespace ppolicy
