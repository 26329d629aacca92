-- ppolicy.sql - the MySQL/MariaDB schema of ppolicyd(8)
--
-- Run it once as a user who may create databases and users, after changing
-- the password:
--     mariadb -u root -p < ppolicy.sql
-- and put the same names into the [database] section of ppolicy.conf.
--
-- You do not have to create the tables yourself: with [database]
-- create_tables = yes (the default) the daemon creates every missing table
-- of its modules when it starts (and its maintenance process creates one
-- dropped later), exactly as below. With create_tables = no it only reports
-- missing tables; create them from this file then. Existing tables are never
-- altered.
--
-- Conventions:
--  * Times that the daemon compares are the database server's clock, so
--    several ppolicyd hosts sharing the database agree: INT UNSIGNED seconds
--    since the epoch (UNIX_TIMESTAMP()) or DATETIME in UTC.
--  * Every table the daemon writes concurrently has a PRIMARY or UNIQUE key,
--    and every write is one atomic statement (INSERT ... ON DUPLICATE KEY
--    UPDATE) or a short transaction under a row lock: no duplicate rows, no
--    check-then-insert races.
--  * Expired rows are deleted by the daemon's maintenance process in small
--    batches (DELETE ... LIMIT 1000); every expiry column is indexed. No cron
--    job is needed.
--  * Addresses and request data are stored as bytes (VARBINARY/BLOB): they
--    are compared exactly (the daemon lower-cases what must compare
--    case-insensitively) and data that is not UTF-8 is kept.
--
-- Upgrading from ppolicy 2.x: the greylist table has a new layout (a primary
-- key on the triplet, expiry times): rename the old one away
-- (RENAME TABLE greylist TO greylist_2x) and let the daemon create the new
-- one; triplets are greylisted once more. The list tables keep their layout,
-- but ListDyn needs a UNIQUE key on its key columns for `add` (see below).

CREATE DATABASE IF NOT EXISTS ppolicy CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
CREATE USER IF NOT EXISTS 'ppolicy'@'localhost' IDENTIFIED BY 'secret';
-- SELECT, INSERT, UPDATE, DELETE for the modules; CREATE (and ALTER, DROP
-- for DumpDataDB's split = records) to let the daemon create its tables.
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP ON ppolicy.* TO 'ppolicy'@'localhost';
-- Other ppolicyd hosts (several MX hosts sharing greylisting and DOS limits):
-- CREATE USER IF NOT EXISTS 'ppolicy'@'192.0.2.%' IDENTIFIED BY 'secret';
-- GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP ON ppolicy.* TO 'ppolicy'@'192.0.2.%';
USE ppolicy;

-- ---------------------------------------------------------------- Greylist
-- Module Greylist, store = mysql (table = greylist). One row per triplet.
-- The daemon runs one INSERT ... ON DUPLICATE KEY UPDATE per request, which
-- creates the row or moves it through its states (see ppolicy-modules(5)).
CREATE TABLE IF NOT EXISTS greylist (
  sender VARBINARY(255) NOT NULL,     -- normalised sender; "<>" for the null sender
  recipient VARBINARY(255) NOT NULL,  -- lower-cased recipient; "" for the null sender
  client VARBINARY(50) NOT NULL,      -- client network, e.g. 192.0.2.0/24 or 2001:db8:1:2::/64
  first_seen INT UNSIGNED NOT NULL,   -- start of the current waiting period
  last_seen INT UNSIGNED NOT NULL,    -- last request for this triplet
  expire INT UNSIGNED NOT NULL,       -- the row is void from then on: first_seen + mustRetry
                                      -- while waiting, last pass + expiration once passed
  state TINYINT NOT NULL DEFAULT 0,   -- 0 waiting, 1 passed
  last_result TINYINT NOT NULL DEFAULT -2,  -- last answer: 1 pass, -1 greylisted, -2 greylisted
                                            -- (a new waiting period started)
  tries INT UNSIGNED NOT NULL DEFAULT 0,    -- requests in the current period
  passes INT UNSIGNED NOT NULL DEFAULT 0,   -- requests that passed
  PRIMARY KEY (sender, recipient, client),
  KEY expire (expire)
) ENGINE=InnoDB;

-- ---------------------------------------------------------------- DOS, Trap
-- Modules DOS and Trap with store = mysql (tables dos and trap by default;
-- the layout is the same). One row per module instance and key; the state
-- is binary (DOS: the window's newest bucket and per-bucket counts; Trap:
-- the expiry times of the client's trap hits) and changed in a transaction
-- under the row's lock.
CREATE TABLE IF NOT EXISTS dos (
  name VARBINARY(64) NOT NULL,    -- module instance ([module NAME])
  k VARBINARY(255) NOT NULL,      -- the params' values (DOS) or the client address (Trap)
  v VARBINARY(1024) NOT NULL,     -- the state
  expire INT UNSIGNED NOT NULL,   -- when the state is empty (all counts left the window)
  PRIMARY KEY (name, k),
  KEY expire (expire)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS trap (
  name VARBINARY(64) NOT NULL,
  k VARBINARY(255) NOT NULL,
  v VARBINARY(1024) NOT NULL,
  expire INT UNSIGNED NOT NULL,   -- when the client's last trap hit expires
  PRIMARY KEY (name, k),
  KEY expire (expire)
) ENGINE=InnoDB;

-- ---------------------------------------------------------------- DumpDataDB
-- Module DumpDataDB (table = dump). One row per request attribute, plus a
-- "date" row (UTC) per request. The id is the table's AUTO_INCREMENT, so
-- hosts sharing the database never collide. With split = date the daemon
-- uses one table per period (dumpYYYYmmdd, dumpYYYYmm, dumpYYYY), created
-- like this one; with split = records the maintenance process renames a full
-- table to dumpYYYYmmddHHMMSS and continues the ids in a new one.
CREATE TABLE IF NOT EXISTS dump (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `key` VARBINARY(255) NOT NULL,  -- attribute name, as received (bound, never SQL)
  value MEDIUMBLOB,               -- attribute value, as received
  PRIMARY KEY (id, `key`)
) ENGINE=InnoDB;
-- e.g. every request of the last hour with its greylist result:
--   SELECT d.id, d.value AS date, g.value AS greylist FROM dump d
--     JOIN dump g ON g.id = d.id AND g.`key` = 'result_greylist_code'
--     WHERE d.`key` = 'date' AND d.value > UTC_TIMESTAMP() - INTERVAL 1 HOUR;

-- ---------------------------------------------------------------- Verification
-- Module Verification with cacheDB = yes (table = verification, shared by
-- every instance that names it). One row per vtype (mx, connection, domain,
-- user) and target (the domain; the address for vtype user): the definitive
-- answer of a callout (code 2..5 or -2..-5) until `expire` (dbExpirePositive
-- or dbExpireNegative after it was verified). Temporary failures are never
-- stored. The table of ppolicy 2.x (param, soft_expire, hard_expire, code,
-- codeEx) is not used: drop it or rename it away.
CREATE TABLE IF NOT EXISTS verification (
  vtype VARBINARY(10) NOT NULL,
  target VARBINARY(255) NOT NULL,
  code TINYINT NOT NULL,
  info VARBINARY(255) NOT NULL,   -- why, e.g. the mail host and its reply
  created INT UNSIGNED NOT NULL,  -- when it was verified
  expire INT UNSIGNED NOT NULL,
  PRIMARY KEY (vtype, target),
  KEY expire (expire)
) ENGINE=InnoDB;

-- ---------------------------------------------------------------- lookup tables
-- List, ListBW, ListMailDomain and LookupDB read tables whose columns come
-- from their parameters (column / mapping: "NAME:COLUMN [TYPE]", default
-- VARCHAR(255); retcols). The daemon creates a missing one with the key
-- columns NOT NULL, the retcols NULL and a key on the key columns (UNIQUE
-- for List, ListBW and ListMailDomain, a plain index for LookupDB). Lookups
-- find candidates by the key's index and collation, then keep only a row
-- whose key equals the value byte for byte after lower-casing (ASCII; not
-- with cacheCaseSensitive): utf8mb4_general_ci alone would also call
-- accented look-alikes equal ("trüsted" = "trusted"). Case-insensitive
-- lookups need a case-insensitive collation (the default) when rows hold
-- upper-case letters.
-- Examples, as the sample ppolicy.conf would create them:

-- [module list_sender] type = List, param = sender, table = list, column = mail, retcols = note
CREATE TABLE IF NOT EXISTS list (
  mail VARCHAR(255) NOT NULL,
  note VARCHAR(255) NULL,
  UNIQUE KEY ppolicy_key (mail)
) ENGINE=InnoDB;

-- [module bw_sender] type = ListMailDomain, param = sender,
--   tableWhitelist = whitelist_sender, tableBlacklist = blacklist_sender
-- Entries: user@example.com, user (any domain), @example.com (that domain),
-- @.example.com (the domain and its subdomains), @. (everything).
CREATE TABLE IF NOT EXISTS whitelist_sender (
  sender VARCHAR(255) NOT NULL,
  UNIQUE KEY ppolicy_key (sender)
) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS blacklist_sender (
  sender VARCHAR(255) NOT NULL,
  UNIQUE KEY ppolicy_key (sender)
) ENGINE=InnoDB;

-- [module lookup_user] type = LookupDB, param = recipient, table = users,
--   mapping = recipient:mail VARCHAR(100), quota:quota_mb INT, retcols = quota
CREATE TABLE IF NOT EXISTS users (
  mail VARCHAR(100) NOT NULL,
  quota_mb INT NULL,
  KEY ppolicy_key (mail)
) ENGINE=InnoDB;

-- ---------------------------------------------------------------- ListDyn
-- ListDyn (default table list; better give each instance its own table):
-- the mapped key columns with a UNIQUE key (add is one atomic INSERT ... ON
-- DUPLICATE KEY UPDATE), the soft and hard expiry (DATETIME, UTC; NULL:
-- never) and the retcols. Rows past hard_expire are ignored and deleted by
-- the maintenance process. An old table without the UNIQUE key needs one:
--   ALTER TABLE t ADD UNIQUE KEY ppolicy_key (mail);
-- [module seen] type = ListDyn, table = seen_clients, param = client_address,
--   mapping = client_address:ip VARCHAR(45), retcols = reason, hardExpire = 7d
CREATE TABLE IF NOT EXISTS seen_clients (
  ip VARCHAR(45) NOT NULL,
  soft_expire DATETIME NULL,
  hard_expire DATETIME NULL,
  reason VARCHAR(255) NULL,
  UNIQUE KEY ppolicy_key (ip),
  KEY hard_expire (hard_expire)
) ENGINE=InnoDB;

-- Expiry leases: the gateway (host name) holding the row of a job
-- ("expire TABLE") runs it; the others skip it until the lease expires
-- (maintenance_turn in src/db/schema.cpp; ppolicy.conf(5), GALERA).
CREATE TABLE IF NOT EXISTS ppolicy_lease (
  name VARCHAR(64) NOT NULL,
  holder VARCHAR(255) NOT NULL,
  expire INT UNSIGNED NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB;
