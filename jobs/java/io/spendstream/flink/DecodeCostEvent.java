package io.spendstream.flink;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.TableFunction;
import org.apache.flink.types.Row;

/**
 * Single-object Avro cost event to the row the cost job aggregates, in Flink's own JVM.
 *
 * <p>A table function ({@code LATERAL TABLE(decode_cost_event(payload))}), not a scalar one: the
 * planner inlines a scalar call into every {@code e.field} that reads its result, which decoded
 * each event once per field read; a lateral table is evaluated once per row.
 *
 * <p>Mirrors schemas/codec.py: the 10-byte header (C3 01 + CRC-64-AVRO fingerprint) picks the
 * writer schema among every known version; an unknown fingerprint is a newer writer, read as the
 * current schema's prefix. Anything that does not read, or whose money does not fit the job's
 * DECIMAL(38, 18) exactly, comes back as a row whose {@code error} says why: a dead letter, never
 * a job failure. The schemas are the resource {@code writers.json}, generated from schemas/ when
 * the jar is built (spendstream/java_functions.py).
 */
@FunctionHint(output = @DataTypeHint(DecodeCostEvent.RESULT))
public class DecodeCostEvent extends TableFunction<Row> {
  static final String RESULT =
      "ROW<error STRING, account_id STRING, service STRING, region STRING, charge_type STRING, "
          + "currency STRING, unblended_cost STRING, net_cost STRING, resource_id STRING, "
          + "line_item_type STRING, tags MAP<STRING, STRING>, usage_amount STRING, amortized_cost STRING, "
          + "instance_type STRING, pricing_term STRING, public_on_demand_rate STRING>";
  private static final int RESULT_FIELDS = 16;
  private static final String SCHEMA = "cost_event";
  private static final int HEADER = 10;
  private static final int MAX_SCALE = 18;
  private static final BigDecimal MONEY_LIMIT = new BigDecimal("1E15"); // pipelines/cost_event.py MONEY_LIMIT

  private transient Map<String, AvroBinary.Type> writers;
  private transient Set<String> otherSchemas;
  private transient AvroBinary.Type current;
  private transient MetricGroup metrics;
  private transient Map<String, Counter> decoded;
  private transient Counter undecodable;

  @Override
  public void open(FunctionContext context) throws IOException {
    metrics = context.getMetricGroup().addGroup("spendstream");
    decoded = new HashMap<>();
    undecodable = metrics.counter("cost_events_undecodable");
    writers = new HashMap<>();
    otherSchemas = new HashSet<>();
    try (InputStream in = DecodeCostEvent.class.getResourceAsStream("writers.json")) {
      if (in == null) {
        throw new IOException("writers.json is missing from the spendstream functions jar: rebuild it");
      }
      for (JsonNode writer : new ObjectMapper().readTree(in)) {
        String header = writer.get("header").asText();
        if (!writer.get("name").asText().equals(SCHEMA)) {
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

  /** Exactly one row per payload: the event's fields, or only {@code error}. */
  public void eval(byte[] payload) {
    Row row;
    try {
      Map<String, Object> event = read(payload);
      row = row(event);
      decoded.computeIfAbsent(String.valueOf(event.get("source_format")), this::formatCounter).inc();
    } catch (AvroBinary.MalformedException | RuntimeException error) {
      undecodable.inc();
      row = new Row(RESULT_FIELDS);
      row.setField(0, "undecodable cost event: " + error.getMessage());
    }
    collect(row);
  }

  /** Events decoded per export format (cur2, cur1, focus, ...): a label in Prometheus. */
  private Counter formatCounter(String format) {
    return metrics.addGroup("format", format).counter("cost_events_decoded");
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> read(byte[] payload) throws AvroBinary.MalformedException {
    String header = headerHex(payload);
    AvroBinary.Type writer = writers.get(header);
    if (writer == null && (header == null || otherSchemas.contains(header) || !header.startsWith("c301"))) {
      throw new AvroBinary.MalformedException(
          "not a cost_event record: header " + (header == null ? "(too short)" : header)
              + " matches no known schema version");
    }
    return (Map<String, Object>) (writer == null ? current : writer).read(new AvroBinary.Input(payload, HEADER));
  }

  private static Row row(Map<String, Object> event) throws AvroBinary.MalformedException {
    return Row.of(
        null,
        text(event, "usage_account_id"),
        text(event, "service"),
        text(event, "region"),
        text(event, "charge_type"),
        text(event, "currency"),
        money(event, "unblended_cost"),
        money(event, "net_cost"),
        text(event, "resource_id"),
        text(event, "line_item_type"),
        event.get("tags"),
        optionalMoney(event, "usage_amount"),
        optionalMoney(event, "amortized_cost"),
        optional(event, "instance_type"),
        optional(event, "pricing_term"),
        optionalMoney(event, "public_on_demand_rate"));
  }

  /** A field later schema versions added (with a default): an older writer's event reads as empty. */
  private static String optional(Map<String, Object> event, String field) throws AvroBinary.MalformedException {
    return event.get(field) == null ? "" : text(event, field);
  }

  /** An optional decimal (the optimizer's quantities and rates): null when empty, else by the money rule. */
  private static String optionalMoney(Map<String, Object> event, String field) throws AvroBinary.MalformedException {
    return optional(event, field).isEmpty() ? null : money(event, field);
  }

  private static String text(Map<String, Object> event, String field) throws AvroBinary.MalformedException {
    Object value = event.get(field);
    if (!(value instanceof String)) {
      throw new AvroBinary.MalformedException("field " + field + " is missing");
    }
    return (String) value;
  }

  /**
   * Exact decimal strings only, by the rule of pipelines/cost_event.py (exact_decimal): at most 18
   * decimal places once trailing zeros are dropped, and below 1e15, as a plain (non-exponent) string.
   */
  private static String money(Map<String, Object> event, String field) throws AvroBinary.MalformedException {
    String value = text(event, field);
    BigDecimal amount;
    try {
      amount = new BigDecimal(value);
    } catch (NumberFormatException error) {
      throw new AvroBinary.MalformedException(field + " '" + value + "' is not a decimal number");
    }
    BigDecimal exact = amount.stripTrailingZeros();
    if (exact.scale() > MAX_SCALE || amount.abs().compareTo(MONEY_LIMIT) >= 0) {
      throw new AvroBinary.MalformedException(field + " " + value + " does not fit the money rule (at most 18 decimal places, below 1e15)");
    }
    return amount.toPlainString();
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
