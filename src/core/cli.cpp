// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "base/strings.hpp"
#include "conf/config.hpp"
#include "conf/settings.hpp"
#include "proto/reader.hpp"
#include "proto/request.hpp"
#include "runtime/generation.hpp"
#include "runtime/handler.hpp"
#include "shm/segment.hpp"
#include "svc/services.hpp"

namespace ppolicy {
namespace {

std::string indent(std::string_view text, const char* pad) {
  std::string out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    out += line.empty() ? "" : std::string(pad) + std::string(line);
    out += "\n";
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

void print_type(const ModuleType& t) {
  std::string title = format("Module %s", t.name);
  std::printf("%s\n%s\n\n%s\n\n", title.c_str(), std::string(title.size(), '-').c_str(), t.summary);
  std::printf("Parameters:\n");
  for (const auto& row : module_param_rows(t)) {
    std::printf("    %s (%s)\n        %s%s%s%s\n", row.name,
                row.def ? (*row.def ? row.def : "empty") : (row.required ? "required" : "None"),
                row.help, row.choices ? " (" : "", row.choices ? row.choices : "",
                row.choices ? ")" : "");
  }
  if (!t.args.empty()) {
    std::printf("\nCall arguments (policy language: NAME(arg = value, ...)):\n");
    for (const auto& a : t.args)
      std::printf("    %s (%s)\n        %s\n", a.name, type_name(a.type), a.help);
  }
  std::printf("\nInfo fields (policy language: NAME.field):\n");
  std::printf("    code (number), info (string), cached (condition), time (number, ms)\n");
  for (const auto& f : t.fields)
    std::printf("    %s (%s)\n        %s\n", f.name, type_name(f.type), f.help);
  std::printf("\nCheck returns:\n%s\nExamples:\n%s\n\n", t.returns,
              indent(t.examples, "    ").c_str());
}

}  // namespace

void print_defaults() {
  struct {
    const char* name;
    std::span<const Option> rows;
  } sections[] = {
      {"ppolicyd", server_options()}, {"dns", dns_options()}, {"database", database_options()}};
  for (const auto& sec : sections) {
    std::printf("[%s]\n", sec.name);
    for (const auto& row : sec.rows) {
      std::printf("# %s%s%s%s\n", row.help, row.choices ? " (" : "", row.choices ? row.choices : "",
                  row.choices ? ")" : "");
      std::printf("%s = %s\n", row.name, row.def ? row.def : "");
    }
    std::printf("\n");
  }
}

namespace {

// Equal as values, not as text: "10s" and "10" are the same duration.
bool same_value(const Option& row, const OptValue& a, const OptValue& b) {
  if (a.present != b.present) return false;
  switch (row.type) {
    case OptType::string:
      return a.text == b.text;
    case OptType::list:
      return a.list == b.list;
    default:
      return a.i == b.i && a.d == b.d && (row.choices ? lower(a.text) == lower(b.text) : true);
  }
}

}  // namespace

void print_non_defaults(const Config& config) {
  const OptionValues* sections[] = {&config.server_opts, &config.dns_opts, &config.db_opts};
  for (const OptionValues* sec : sections) {
    ErrorList unused;
    OptionValues defaults(sec->rows(), sec->section(), sec->file());
    defaults.finish(unused);
    std::string out;
    for (size_t i = 0; i < sec->rows().size(); ++i) {
      const OptValue& v = sec->value(i);
      if (!v.explicit_ || same_value(sec->rows()[i], v, defaults.value(i))) continue;
      out += format("%s = %s\n", sec->rows()[i].name, v.text.c_str());
    }
    if (!out.empty()) std::printf("[%s]\n%s\n", sec->section().c_str(), out.c_str());
  }
}

bool print_module_docs(const std::string& type) {
  if (!type.empty()) {
    const ModuleType* t = find_module_type(type);
    if (!t) return false;
    print_type(*t);
    if (t->extra_docs) t->extra_docs();
    return true;
  }
  std::vector<const ModuleType*> all(module_types().begin(), module_types().end());
  std::sort(all.begin(), all.end(), [](const ModuleType* a, const ModuleType* b) {
    return lower(a->name) < lower(b->name);
  });
  for (const auto* t : all)
    print_type(*t);
  return true;
}

int evaluate_stdin(Generation& gen) {
  const ServerSettings& server = gen.server();
  // A small private segment: the result cache works as in the daemon.
  Segment shm(1 << 20, 1 << 20, 16384);
  gen.register_stats(shm.stats());
  Services services(gen.config(), &shm);
  // As the daemon does at start (e.g. missing database tables), so that -e on
  // a fresh database shows the policy's answers, not "table missing".
  for (auto& m : gen.modules) {
    try {
      m->module->prepare(services);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ppolicyd: module %s: %s\n", m->name.c_str(), e.what());
    }
  }
  for (auto& m : gen.modules)
    m->module->start(services);
  StatsBuffer stats(&shm.stats());
  RequestHandler handler(gen, services, &stats);
  handler.log_decisions(false);  // the trace says more
  RequestReader reader(ProtocolLimits{server.max_line_length, server.max_request_size,
                                      static_cast<size_t>(server.max_attributes)});
  Request request;
  char buf[16384];
  ssize_t r;
  int n = 0;
  std::string why;
  bool eof = false;
  while (!eof) {
    r = read(STDIN_FILENO, buf, sizeof buf);
    if (r <= 0) {
      eof = true;
      // A last request without its empty line still counts.
      if (reader.has_pending() && reader.pending().back() != '\n') reader.append("\n");
      if (reader.has_pending()) reader.append("\n");
    } else {
      reader.append(std::string_view(buf, static_cast<size_t>(r)));
    }
    RequestReader::Status st;
    while ((st = reader.next(request, &why)) == RequestReader::Status::complete) {
      request.listener = server.listen.empty() ? "" : server.listen.front();
      double ms = 0;
      Decision d = handler.handle(request, &ms);
      std::printf("request %d: %s", ++n, RequestHandler::trace(request, d, ms).c_str());
      std::fflush(stdout);
    }
    if (st == RequestReader::Status::error) {
      std::fprintf(stderr, "ppolicyd: request %d: %s\n", n + 1, why.c_str());
      return 1;
    }
  }
  for (auto& m : gen.modules)
    m->module->stop();
  if (n == 0) {
    std::fprintf(
        stderr,
        "ppolicyd: no request on standard input (name=value lines, an empty line after each)\n");
    return 1;
  }
  return 0;
}

}  // namespace ppolicy
