// SPDX-License-Identifier: GPL-2.0-or-later
// The unit-test runner's main(); every other file is one suite per source file.
#define BOOST_TEST_MODULE ppolicy unit tests
#include <boost/test/unit_test.hpp>
