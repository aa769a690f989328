// Package tarball streams a workspace directory as a tar, for the engines
// that copy it into a job.
package tarball

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"
	"time"
)

// Own is the directory of slipway's own beside a pipeline file
// (.slipway/artifacts); it is never copied into a job.
const Own = ".slipway"

// Write writes dir's tree to w as a tar stream, symlinks as symlinks, for
// extraction at dest (an absolute path in the container). The entries are
// inside the directory under (a relative slash path, "" for none): dest
// is then that directory below where the stream is unpacked, and the
// entries of under itself come first, so that it is made.
//
// A relative link that leads out of dir (up -> ../sibling) is written as
// the absolute path it leads to in the container (/builds/g/sibling): it
// means the same there, and dangles there as a git checkout's would, but
// an engine that refuses links breaking out of the extraction directory
// (Docker does) accepts it.
//
// The directory Own at the top of dir is left out.
func Write(w io.Writer, dir, dest, under string) error {
	tw := tar.NewWriter(w)
	if err := parents(tw, under); err != nil {
		return err
	}
	err := walk(dir, func(path, rel string, d fs.DirEntry) error {
		return addTarEntry(tw, path, rel, dest, under, d)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// walk calls fn for each entry below dir, in lexical order, with its slash
// path relative to dir; the top itself and slipway's own directory are
// left out.
func walk(dir string, fn func(path, rel string, d fs.DirEntry) error) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		if rel == Own && d.IsDir() {
			// slipway's own (kept artifacts, written while jobs start):
			// not the project's, and not a tree to copy into every job.
			return fs.SkipDir
		}
		return fn(path, filepath.ToSlash(rel), d)
	})
}

// parents writes a directory entry for under and each directory above it.
func parents(tw *tar.Writer, under string) error {
	if under == "" || under == "." {
		return nil
	}
	var dir string
	for _, part := range strings.Split(pathpkg.Clean(under), "/") {
		dir = pathpkg.Join(dir, part)
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: time.Now()}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	return nil
}

// entryInfo is an entry's information and, for a symbolic link, its
// target.
func entryInfo(path string, d fs.DirEntry) (fs.FileInfo, string, error) {
	info, err := d.Info()
	if err != nil || info.Mode()&fs.ModeSymlink == 0 {
		return info, "", err
	}
	link, err := os.Readlink(path)
	return info, filepath.ToSlash(link), err
}

func addTarEntry(tw *tar.Writer, path, rel, dest, under string, d fs.DirEntry) error {
	info, link, err := entryInfo(path, d)
	if err != nil {
		return err
	}
	if link != "" {
		link = linkTarget(rel, link, dest)
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return nil // sockets, devices: not part of a checkout
	}
	hdr.Name = pathpkg.Join(under, rel)
	if d.IsDir() {
		hdr.Name += "/"
	}
	// Jobs run as the image's user, usually root: own the files as root.
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// linkTarget is the target to store for the link at rel: as it is, unless
// it is relative and leads out of the tree, when it becomes the absolute
// path it leads to below dest's parent directories.
func linkTarget(rel, link, dest string) string {
	if pathpkg.IsAbs(link) {
		return link
	}
	inside := pathpkg.Join(pathpkg.Dir(rel), link)
	if inside != ".." && !strings.HasPrefix(inside, "../") {
		return link
	}
	return pathpkg.Join(dest, inside)
}

// Fingerprint writes to h a description of what Write would write of dir's
// tree, but for file contents: each entry's path, type and mode, size,
// modification time and link target, in Write's order and with its
// exclusions. Two trees with the same fingerprint give the same stream,
// unless a file was rewritten keeping its size and its modification time
// (to the nanosecond here): the assumption make and git's index make too.
func Fingerprint(h io.Writer, dir string) error {
	return walk(dir, func(path, rel string, d fs.DirEntry) error {
		info, link, err := entryInfo(path, d)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(h, "%q %o %d %d %q\n", rel, uint32(info.Mode()), info.Size(), info.ModTime().UnixNano(), link)
		return err
	})
}
