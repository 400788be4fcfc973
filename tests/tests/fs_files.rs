//! Files end to end, on every flavor and both backends: whole-file helpers, positional
//! owned-buffer reads and writes (through io_uring where available), large files with a
//! checksum, and typed errors for missing files.

use trioxide::fs::{self, File, OpenOptions};
use trioxide_tests::rt_test;

fn path(name: &str) -> std::path::PathBuf {
    let thread = format!("{:?}", std::thread::current().id()).replace(['(', ')'], "");
    fs::temp_path(&format!("{name}-{thread}"))
}

rt_test! {
    async fn whole_file_helpers_round_trip() {
        let dir = path("dir");
        fs::create_dir_all(dir.join("a/b")).await.unwrap();
        let file = dir.join("a/b/hello.txt");
        fs::write(&file, "Hello, file!").await.unwrap();
        assert_eq!(fs::read_to_string(&file).await.unwrap(), "Hello, file!");
        assert_eq!(fs::metadata(&file).await.unwrap().len(), 12);
        let moved = dir.join("moved.txt");
        fs::rename(&file, &moved).await.unwrap();
        assert_eq!(fs::read(&moved).await.unwrap(), b"Hello, file!");
        fs::remove_file(&moved).await.unwrap();
        let err = fs::read(&moved).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

rt_test! {
    async fn positional_owned_buffer_io_with_a_large_checksummed_file() {
        let p = path("big");
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p).await.unwrap();
        let data: Vec<u8> = (0..4u32 * 1024 * 1024).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let (res, back) = file.write_all_at(data.clone(), 0).await;
        res.unwrap();
        assert_eq!(back.len(), data.len(), "the buffer comes back");
        file.sync_all().await.unwrap();
        let read = File::open(&p).await.unwrap().read_to_end_at(0).await.unwrap();
        let sum = |v: &[u8]| v.iter().fold(0u64, |a, &b| a.wrapping_mul(31).wrapping_add(b as u64));
        assert_eq!(read.len(), data.len());
        assert_eq!(sum(&read), sum(&data));
        let (n, buf) = file.read_at(Vec::with_capacity(16), 1000).await;
        assert_eq!(n.unwrap(), 16);
        assert_eq!(&buf[..], &data[1000..1016]);
        assert_eq!(file.metadata().await.unwrap().len(), data.len() as u64);
        let _ = std::fs::remove_file(&p);
    }
}
