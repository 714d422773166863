# Thin wrapper: the real build is Meson + Ninja. See README.md.
BUILD      ?= build
BUILD_ASAN ?= build-asan
HOME_DIR   ?= run

.PHONY: all deps build run stop test test-plain test-asan fuzz bench clean deb

all: build

deps:
	./scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dtests=enabled

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	./scripts/demo "$(BUILD)" "$(HOME_DIR)"

stop:
	-./scripts/demo-stop "$(HOME_DIR)"

test: deps test-plain test-asan

test-plain: $(BUILD)/build.ninja
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs

$(BUILD_ASAN)/build.ninja:
	CC=clang meson setup $(BUILD_ASAN) -Dtests=enabled -Db_sanitize=address,undefined -Db_lundef=false

test-asan: $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	meson test -C $(BUILD_ASAN) --print-errorlogs --no-suite integration-pg

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-fuzz

# The Debian package, built by dpkg-buildpackage from a copy of the tracked files (with
# packaging/debian as debian/) in $(DEB_DIR); the .deb lands there.
DEB_DIR ?= build-deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/torwart-0.1.0
	git ls-files -z | tar --null -T - -cf - | tar -xf - -C $(DEB_DIR)/torwart-0.1.0
	rm -rf $(DEB_DIR)/torwart-0.1.0/debian
	cp -r packaging/debian $(DEB_DIR)/torwart-0.1.0/debian
	cd $(DEB_DIR)/torwart-0.1.0 && dpkg-buildpackage -b -us -uc
	@ls -l $(DEB_DIR)/*.deb
