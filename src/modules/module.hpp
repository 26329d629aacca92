// SPDX-License-Identifier: GPL-2.0-or-later
// The whole contract between the daemon and a check module.
//
// A module type is one source file in src/modules/ exporting one ModuleType
// descriptor (listed in registry.cpp). The descriptor carries the type name
// and parameter names exactly as MODULES documents them, the parameter rows
// (which drive validation, `ppolicyd -M` and the man-page test), the default
// result-cache lifetimes, the info fields and call arguments the policy
// language may use, and a factory.
//
// Lifecycle:
//   create()   master, while loading the configuration (also for -t and -e):
//              validate parameters, throw KeyError naming the offending key.
//              No network connections here; files may be opened (mmdb, data).
//   prepare()  master, once at start (not for -t), before privileges are
//              dropped and workers forked: e.g. create missing database
//              tables. Must close every connection it opened (workers are
//              forked next and must not share it). Log and return on failure.
//   start()    each worker, after fork and privilege drop: open per-worker
//              resources (or open them lazily on first use).
//   check()    worker, per request, synchronous; must respect ctx.deadline.
//   maintain() the maintenance process, on the master's timer: expire rows.
//   stop()     worker exit.
// A module returns (code, info) as its MODULES entry says. Expected failures
// (DNS timeout, database down) are code 0 with a reason in info, never an
// exception; an exception that escapes check() is logged and becomes code 0.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/value.hpp"
#include "conf/option.hpp"

namespace ppolicy {

class Config;
class Request;
class Services;

struct Result {
  int code = 0;
  std::string info;
  std::vector<std::pair<std::string, Value>> fields;  // named info fields
  // A backend failure (server down, timeout), not an answer about the
  // request: never shared through the result cache, whatever the code.
  bool transient = false;
  // The most seconds this result may be shared through the result cache
  // (-1: as long as the instance's lifetime for its code allows). A result
  // that is true only for a while (a greylisting wait, a pass until its
  // row expires) says how long.
  long ttl = -1;

  Result() = default;
  Result(int c, std::string i) : code(c), info(std::move(i)) {}
  Result& set(std::string name, double n);
  Result& set(std::string name, std::string s);
  const Value* field(std::string_view name) const;

  // Compact binary form for the shared result cache.
  std::string encode() const;
  static bool decode(std::string_view blob, Result& out);
};

// Info fields a module may fill (besides code and info), for the language.
struct FieldSpec {
  const char* name;
  Type type;  // number or string
  const char* help;
};

// Named per-call arguments a module accepts in the policy language.
struct ArgSpec {
  const char* name;
  Type type;  // string, number, boolean, or list (of strings)
  const char* help;
};

struct CallArgs {
  std::vector<std::pair<std::string, Value>> items;
  const Value* get(std::string_view name) const;
  bool empty() const { return items.empty(); }
  std::string key() const;  // canonical text, part of cache keys
};

class CheckContext {
 public:
  CheckContext(Services& services, SteadyClock::time_point deadline, const std::string& instance)
      : d_services(services), d_deadline(deadline), d_instance(instance) {}
  Services& services() { return d_services; }
  SteadyClock::time_point deadline() const { return d_deadline; }
  const std::string& instance() const { return d_instance; }
  // Milliseconds left before the request deadline (0 when past it).
  long remaining_ms() const;
  bool expired() const { return SteadyClock::now() >= d_deadline; }

 private:
  Services& d_services;
  SteadyClock::time_point d_deadline;
  const std::string& d_instance;
};

// Live administration (ppolicyd -C; core/control.cpp runs it in a
// short-lived child of the master, with the daemon's Services): what a
// module keeps about a subject, and changes an administrator may make.
// Empty fields of a subject were not given.
struct AdminSubject {
  std::string client, sender, recipient;
};
// One thing kept, as ordered (name, value) pairs: printed "name=value ...".
using AdminRecord = std::vector<std::pair<std::string, std::string>>;

class Module {
 public:
  virtual ~Module() = default;
  virtual void prepare(Services&) {}
  virtual void start(Services&) {}
  virtual void stop() noexcept {}
  // Append to `key` exactly the inputs the result depends on and return
  // true, or return false when the result must not be shared (no caching).
  virtual bool cache_key(const Request&, const CallArgs&, std::string& /*key*/) const {
    return false;
  }
  virtual Result check(Request& request, const CallArgs& args, CheckContext& ctx) = 0;
  // A result of this module comes from the result cache, stored `age`
  // seconds ago: bring what counts down with time up to date (e.g. a wait).
  virtual void on_cache_hit(Result& /*result*/, uint32_t /*age*/) const {}
  // Info fields of this instance beyond its type's (e.g. the LDAP attributes
  // a LookupLDAP instance is configured to return), for the policy language.
  virtual std::span<const FieldSpec> instance_fields() const { return {}; }
  virtual void maintain(Services&) {}
  // Info fields of this instance besides its type's (e.g. the columns a
  // list module returns, which its parameters name); the policy compiler
  // asks for a NAME.FIELD it does not know from the type.
  virtual const FieldSpec* instance_field(std::string_view /*name*/) const { return nullptr; }

  // Live administration, all optional. admin_show appends what this module
  // keeps about the subject (greylist triplets, counters, trap hits).
  // admin_release lets a greylisted triplet pass (Greylist); admin_reset
  // forgets the record of `key` (DOS: the parameter values joined by ',';
  // Trap: the client address). Both return false with a reason in `error`
  // when the module cannot do it or nothing matched; `done` says what
  // changed.
  virtual void admin_show(Services&, const AdminSubject&, std::vector<AdminRecord>&) {}
  virtual bool admin_release(Services&, const AdminSubject&, std::string& /*done*/,
                             std::string& error) {
    error = "not a Greylist module";
    return false;
  }
  virtual bool admin_reset(Services&, const std::string& /*key*/, std::string& /*done*/,
                           std::string& error) {
    error = "has no records to reset (DOS and Trap modules have)";
    return false;
  }

 protected:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
};

struct ModuleSetup {
  const std::string& name;     // instance name
  const OptionValues& params;  // validated parameters (including the base ones)
  const Config& config;        // the whole configuration ([dns], [database], ...)
  size_t own_params;           // rows [0, own_params) are the type's own

  // The type's own parameters as the struct P their rows are bound to
  // (`.store = bind<&P::member>()`): each default is written once, in its
  // row, and a misspelt member does not compile. A parameter without a
  // default that is not set leaves a std::optional member empty.
  template <class P>
  P bound() const {
    P p{};
    ErrorList errors;
    params.store(&p, errors, 0, own_params);
    errors.raise_if_any();
    return p;
  }
};

struct CacheLifetimes {
  long positive, unknown, negative;  // seconds; 0 = do not cache
};

struct ModuleType {
  const char* name;                // "Greylist", as in MODULES
  const char* summary;             // the MODULES description
  std::span<const Option> params;  // this type's own parameters
  CacheLifetimes cache;            // defaults of cachePositive/Unknown/Negative
  std::span<const FieldSpec> fields;
  std::span<const ArgSpec> args;
  const char* returns;   // the "Check returns" list
  const char* examples;  // ppolicy.conf examples
  std::unique_ptr<Module> (*create)(const ModuleSetup&);
  // Optional: more documentation printed by `ppolicyd -M TYPE` (e.g. the
  // blacklists of the DNSBL data file).
  void (*extra_docs)() = nullptr;
};

// The registry (registry.cpp): every module type, in documentation order.
std::span<const ModuleType* const> module_types();
const ModuleType* find_module_type(std::string_view name);  // case-insensitive
// Types whose check changes shared state (counters, triplets, lists, dumps),
// waits on purpose, or talks to other mail systems (callouts, whois): a
// shadow policy never calls them (runtime/shadow.hpp).
bool changes_state(const ModuleType& type);
// The full parameter rows of a type: its own plus the base parameters
// (cachePositive, cacheUnknown, cacheNegative, saveResult, saveResultPrefix).
std::span<const Option> module_param_rows(const ModuleType& type);

}  // namespace ppolicy
