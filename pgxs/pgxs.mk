# pgxs.mk: bgw's PGXS, what `$(shell $(PG_CONFIG) --pgxs)` names when PG_CONFIG is bgw's pg_config.
#
# An extension's own Makefile, written for PostgreSQL's PGXS, includes this file unchanged. It builds shared
# libraries against bgw's server include tree and installs them and the extension's files where bgw reads them:
#   MODULES = a b            one library per source file a.c, b.c
#   MODULE_big = x, OBJS     one library x from the object files OBJS
#   EXTENSION = e            installs e.control (and e--*.sql listed in DATA) into $(sharedir)/extension
#   DATA, DATA_built         further files for $(sharedir)/extension
#   DOCS                     files for $(docdir)/extension
#   PG_CPPFLAGS, PG_CFLAGS, PG_LDFLAGS, SHLIB_LINK, PGFILEDESC (accepted; bgw has no file description resource)
#   EXTRA_CLEAN              further files `make clean` removes
# Targets: all (the default), install, installdirs, uninstall, clean. DESTDIR prefixes every install path.
# REGRESS, ISOLATION and TAP tests (installcheck, check) are not supported: those targets say so and fail.
# A library is linked without the server's libraries: its references to the server resolve against the running
# bgw executable when bgw loads it (RTLD_NOW: a function bgw does not provide fails the load, naming it).

PG_CONFIG ?= pg_config
srcdir ?= .
VPATH := $(srcdir)

bindir := $(shell $(PG_CONFIG) --bindir)
pkglibdir := $(shell $(PG_CONFIG) --pkglibdir)
sharedir := $(shell $(PG_CONFIG) --sharedir)
docdir := $(shell $(PG_CONFIG) --docdir)
includedir_server := $(shell $(PG_CONFIG) --includedir-server)
CC := $(shell $(PG_CONFIG) --cc)
CPPFLAGS_PG := $(shell $(PG_CONFIG) --cppflags)
CFLAGS_PG := $(shell $(PG_CONFIG) --cflags)
CFLAGS_SL := $(shell $(PG_CONFIG) --cflags_sl)
LDFLAGS_SL := $(shell $(PG_CONFIG) --ldflags_sl)
MAJORVERSION := $(shell $(PG_CONFIG) --version | sed -e 's/^PostgreSQL //' -e 's/[. ].*//')
VERSION := $(shell $(PG_CONFIG) --version | sed -e 's/^PostgreSQL //' -e 's/ .*//')

DLSUFFIX = .so
INSTALL ?= install
INSTALL_DATA = $(INSTALL) -m 644
INSTALL_SHLIB = $(INSTALL) -m 755
MKDIR_P = mkdir -p

override CPPFLAGS := -I. -I$(srcdir) $(PG_CPPFLAGS) -I$(includedir_server) $(CPPFLAGS_PG) $(CPPFLAGS)
override CFLAGS := $(CFLAGS_PG) $(CFLAGS_SL) $(PG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(PG_LDFLAGS) $(LDFLAGS) $(LDFLAGS_SL)

ifdef MODULES
module_libs := $(addsuffix $(DLSUFFIX), $(MODULES))
endif
ifdef MODULE_big
big_lib := $(MODULE_big)$(DLSUFFIX)
endif
extension_data := $(addsuffix .control, $(EXTENSION)) $(DATA) $(DATA_built)

.PHONY: all install installdirs uninstall clean distclean maintainer-clean check installcheck \
	bgw-no-tests

all: $(module_libs) $(big_lib) $(DATA_built)

%.o: %.c
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

%$(DLSUFFIX): %.o
	$(CC) $(CFLAGS) -shared -o $@ $< $(LDFLAGS_ALL) $(SHLIB_LINK)

ifdef MODULE_big
$(big_lib): $(OBJS)
	$(CC) $(CFLAGS) -shared -o $@ $(OBJS) $(LDFLAGS_ALL) $(SHLIB_LINK)
endif

installdirs:
ifneq (,$(strip $(module_libs) $(big_lib)))
	$(MKDIR_P) '$(DESTDIR)$(pkglibdir)'
endif
ifneq (,$(strip $(extension_data)))
	$(MKDIR_P) '$(DESTDIR)$(sharedir)/extension'
endif
ifneq (,$(strip $(DOCS)))
	$(MKDIR_P) '$(DESTDIR)$(docdir)/extension'
endif

install: all installdirs
ifneq (,$(strip $(module_libs) $(big_lib)))
	$(INSTALL_SHLIB) $(module_libs) $(big_lib) '$(DESTDIR)$(pkglibdir)/'
endif
ifneq (,$(strip $(extension_data)))
	$(INSTALL_DATA) $(addprefix $(srcdir)/, $(addsuffix .control, $(EXTENSION)) $(DATA)) $(DATA_built) '$(DESTDIR)$(sharedir)/extension/'
endif
ifneq (,$(strip $(DOCS)))
	$(INSTALL_DATA) $(addprefix $(srcdir)/, $(DOCS)) '$(DESTDIR)$(docdir)/extension/'
endif

uninstall:
	rm -f $(addprefix '$(DESTDIR)$(pkglibdir)'/, $(module_libs) $(big_lib))
	rm -f $(addprefix '$(DESTDIR)$(sharedir)'/extension/, $(notdir $(extension_data)))
	rm -f $(addprefix '$(DESTDIR)$(docdir)'/extension/, $(notdir $(DOCS)))

clean:
	rm -f $(module_libs) $(big_lib) $(addsuffix .o, $(MODULES)) $(OBJS) $(DATA_built) $(EXTRA_CLEAN)

distclean maintainer-clean: clean

check installcheck: bgw-no-tests

bgw-no-tests:
	@echo "bgw's PGXS does not run regression tests (REGRESS, ISOLATION, TAP): $(or $(REGRESS),none listed)" >&2
	@false
