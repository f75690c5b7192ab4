SHOW data_checksums;
