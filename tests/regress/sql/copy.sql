-- binary COPY round trip (the format drivers use) and text COPY
CREATE TABLE copy_t (id int, v vector);
INSERT INTO copy_t VALUES (1, '[1,2,3]'), (2, '[1.5e38,-1.5e38]'), (3, '[0.1,-0,1e-45]'), (4, NULL);
COPY copy_t TO '/tmp/vecstore_regress_copy.bin' WITH (FORMAT binary);
CREATE TABLE copy_t2 (id int, v vector);
COPY copy_t2 FROM '/tmp/vecstore_regress_copy.bin' WITH (FORMAT binary);
SELECT * FROM copy_t2 ORDER BY id;
SELECT count(*) AS same FROM copy_t a JOIN copy_t2 b USING (id) WHERE a.v = b.v;
CREATE TABLE copy_t3 (id int, v vector(2));
COPY copy_t3 FROM '/tmp/vecstore_regress_copy.bin' WITH (FORMAT binary);
COPY copy_t TO '/tmp/vecstore_regress_copy.txt';
TRUNCATE copy_t2;
COPY copy_t2 FROM '/tmp/vecstore_regress_copy.txt';
SELECT * FROM copy_t2 ORDER BY id;
DROP TABLE copy_t, copy_t2, copy_t3;
