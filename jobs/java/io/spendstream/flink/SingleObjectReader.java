package io.spendstream.flink;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Reads single-object Avro records of one schema, as schemas/codec.py does.
 *
 * <p>The 10-byte header (C3 01 + CRC-64-AVRO fingerprint) picks the writer schema among every
 * known version; an unknown fingerprint is a newer writer, read as the current schema's prefix.
 * The versions are the resource {@code writers.json}, generated from schemas/ when the jar is
 * built (spendstream/java_functions.py).
 */
final class SingleObjectReader {
  private static final int HEADER = 10;

  private final String schema;
  private final Map<String, AvroBinary.Type> writers = new HashMap<>();
  private final Set<String> otherSchemas = new HashSet<>();
  private AvroBinary.Type current;

  SingleObjectReader(String schema) throws IOException {
    this.schema = schema;
    try (InputStream in = SingleObjectReader.class.getResourceAsStream("writers.json")) {
      if (in == null) {
        throw new IOException("writers.json is missing from the spendstream functions jar: rebuild it");
      }
      for (JsonNode writer : new ObjectMapper().readTree(in)) {
        String header = writer.get("header").asText();
        if (!writer.get("name").asText().equals(schema)) {
          otherSchemas.add(header);
          continue;
        }
        AvroBinary.Type type = AvroBinary.compile(writer.get("schema"));
        writers.put(header, type);
        if (writer.get("current").asBoolean()) {
          current = type;
        }
      }
    }
  }

  @SuppressWarnings("unchecked")
  Map<String, Object> read(byte[] payload) throws AvroBinary.MalformedException {
    String header = headerHex(payload);
    AvroBinary.Type writer = writers.get(header);
    if (writer == null && (header == null || otherSchemas.contains(header) || !header.startsWith("c301"))) {
      throw new AvroBinary.MalformedException(
          "not a " + schema + " record: header " + (header == null ? "(too short)" : header)
              + " matches no known schema version");
    }
    return (Map<String, Object>) (writer == null ? current : writer).read(new AvroBinary.Input(payload, HEADER));
  }

  private static String headerHex(byte[] payload) {
    if (payload.length < HEADER) {
      return null;
    }
    StringBuilder hex = new StringBuilder(2 * HEADER);
    for (int i = 0; i < HEADER; i++) {
      hex.append(Character.forDigit((payload[i] >> 4) & 0xf, 16)).append(Character.forDigit(payload[i] & 0xf, 16));
    }
    return hex.toString();
  }
}
