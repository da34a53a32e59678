# Sourced by bench/delta-corpus.sh, bench/delta-heldout.sh and bench/rust-corpus.sh: fetches
# program pairs from Debian.
#
# debian_suites APTDIR SUITE...: an apt configuration of its own under APTDIR listing SUITE...
# (main, amd64 and arm64), exported as APT_CONFIG, with its package indices fetched once; the
# machine's sources are not touched. For suites the machine does not list (its are bookworm's).
debian_suites() {
    local aptdir=$1 suite
    shift
    mkdir -p "$aptdir"/lists/partial "$aptdir"/cache/archives/partial "$aptdir"/preferences.d
    for suite in "$@"; do
        echo "deb [arch=amd64,arm64] http://deb.debian.org/debian $suite main"
    done >"$aptdir/sources.list"
    cat >"$aptdir/apt.conf" <<CONF
Dir::Etc::SourceList "$aptdir/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "$aptdir/preferences.d";
Dir::State::Lists "$aptdir/lists";
Dir::Cache "$aptdir/cache";
CONF
    export APT_CONFIG=$aptdir/apt.conf
    if [ ! -f "$aptdir/updated" ]; then
        apt-get update -qq >/dev/null
        touch "$aptdir/updated"
    fi
}


# debian_pairs CORPUS ARCHES ENTRY...: for each "name package old-version new-version path" ENTRY
# (@TRIPLET@ and @ARCH@ in the path replaced per architecture, e.g. x86_64-linux-gnu and amd64; a
# glob in the path matches the one file the package holds under that name) and each architecture, downloads both versions with
# `apt-get download` into CORPUS/deb (once; arm64 needs `dpkg --add-architecture arm64`, added
# here), unpacks them with `dpkg-deb -x` and copies the file to CORPUS/NAME-ARCH.old and .new.
# A version Debian no longer publishes skips its pair with a note. Sets DEBIAN_PAIRS to the
# names of the pairs present. A package "OLD,NEW" names the old and the new version's packages
# when the name changed between releases (a library's soname in it). apt-get honours
# APT_CONFIG, so a caller can point it at suites the machine's sources do not list.
debian_pairs() {
    local corpus=$1 arches=$2
    shift 2
    local deb=$corpus/deb arch entry name package vold vnew path side version tree work found pkg
    mkdir -p "$deb"
    # arm64 needs the architecture and its package lists: an architecture added earlier without
    # a successful update leaves no arm64 lists, and every arm64 version reads as not published.
    if [[ " $arches " == *" arm64 "* ]]; then
        dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
        # shellcheck disable=SC2016 # apt's own $(ARCHITECTURE) template, not a shell expansion
        if ! apt-get indextargets --format '$(ARCHITECTURE)' 2>/dev/null | grep -qx arm64; then
            apt-get update -qq >/dev/null
        fi
    fi
    DEBIAN_PAIRS=()
    for arch in $arches; do
        for entry in "$@"; do
            read -r name package vold vnew path <<<"$entry"
            case $arch in amd64) path=${path//@TRIPLET@/x86_64-linux-gnu} ;; arm64) path=${path//@TRIPLET@/aarch64-linux-gnu} ;; esac
            path=${path//@ARCH@/$arch}
            for side in old new; do
                version=$vold pkg=${package%,*}
                [ $side = new ] && version=$vnew pkg=${package#*,}
                tree=$deb/$pkg-$arch-$side
                if [ ! -d "$tree" ]; then
                    work=$(mktemp -d "$deb/dl.XXXXXX")
                    if (cd "$work" && apt-get download -qq "$pkg:$arch=$version" >/dev/null 2>&1); then
                        dpkg-deb -x "$work"/*.deb "$tree"
                    else
                        echo "note: $pkg:$arch=$version is not downloadable any more; pair $name-$arch skipped" >&2
                    fi
                    rm -rf "$work"
                fi
                # shellcheck disable=SC2206 # the glob in the path is meant to expand
                found=($tree/$path)
                [ -f "${found[0]}" ] && cp "${found[0]}" "$corpus/$name-$arch.$side"
            done
            [ -f "$corpus/$name-$arch.old" ] && [ -f "$corpus/$name-$arch.new" ] && DEBIAN_PAIRS+=("$name-$arch")
        done
    done
    return 0
}
