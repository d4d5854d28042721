/*
 * fileid.h - what tells a file unchanged since it was last seen: device,
 * inode, size and modification time.  A module's code is loaded again,
 * and an object's symbols read again, only when these differ.
 */
#ifndef SLUICE_FILEID_H
#define SLUICE_FILEID_H

#include <sys/stat.h>

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	long long mtime_ns;
};

static inline struct file_id file_id_of(const struct stat *st)
{
	return (struct file_id){ st->st_dev, st->st_ino, st->st_size,
				 st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec };
}

static inline int file_id_same(const struct file_id *id, const struct stat *st)
{
	struct file_id now = file_id_of(st);

	return id->dev == now.dev && id->ino == now.ino && id->size == now.size &&
	       id->mtime_ns == now.mtime_ns;
}

#endif
