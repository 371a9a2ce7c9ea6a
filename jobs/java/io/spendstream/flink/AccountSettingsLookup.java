package io.spendstream.flink;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.LookupFunction;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Each account's latest settings, followed from the compacted settings topic in the background.
 *
 * <p>{@code open} reads the topic to its end before the first event is looked up, so a restarted
 * job enriches with the settings that stand; afterwards a thread keeps following it, so a change
 * reaches events processed a fraction of a second after it was written. A lookup is a map read
 * on the task thread. Records are schemas/account_settings.avsc; the highest version of an
 * account wins (a repeated delivery changes nothing). Columns are filled by name:
 * {@code account_id}, {@code version}, {@code entry} (the account's entry as JSON, for the
 * Python functions), {@code account_name}, {@code DIM_tag} / {@code DIM_values} (the account's tag
 * rule for dimension DIM), and any other column from the entry's field of that name.
 */
public final class AccountSettingsLookup extends LookupFunction {
  private static final Logger LOG = LoggerFactory.getLogger(AccountSettingsLookup.class);
  private static final Duration POLL = Duration.ofMillis(200);
  private static final long CATCH_UP_S = 60;

  private final String topic;
  private final Properties kafka;
  private final List<String> columns;
  private transient Map<String, RowData> settings;
  private transient Map<String, Long> versions;
  private transient AtomicLong applied;
  private transient CountDownLatch caughtUp;
  private transient Thread follower;
  private transient volatile boolean running;
  private transient volatile Exception failure;

  AccountSettingsLookup(String topic, Properties kafka, List<String> columns) {
    this.topic = topic;
    this.kafka = kafka;
    this.columns = columns;
  }

  @Override
  public void open(FunctionContext context) throws Exception {
    settings = new ConcurrentHashMap<>();
    versions = new HashMap<>();
    applied = new AtomicLong();
    caughtUp = new CountDownLatch(1);
    context.getMetricGroup().addGroup("spendstream").gauge("account_settings_applied", applied::get);
    SingleObjectReader reader = new SingleObjectReader("account_settings");
    running = true;
    follower = new Thread(() -> follow(reader), "account-settings-follower");
    follower.setDaemon(true);
    follower.start();
    if (!caughtUp.await(CATCH_UP_S, TimeUnit.SECONDS)) {
      throw new IOException(
          "account settings topic " + topic + " not read to its end within " + CATCH_UP_S
              + " s: is Kafka reachable from the TaskManager?", failure);
    }
  }

  @Override
  public Collection<RowData> lookup(RowData key) {
    RowData row = settings.get(key.getString(0).toString());
    return row == null ? Collections.emptyList() : Collections.singletonList(row);
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    if (follower != null) {
      follower.join(5000);
    }
  }

  private void follow(SingleObjectReader reader) {
    Properties props = new Properties();
    props.putAll(kafka);
    props.put("enable.auto.commit", "false");
    props.put("client.id", "spendstream-account-settings");
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      Map<TopicPartition, Long> ends = null;
      while (running) {
        if (ends == null) {
          ends = assign(consumer);
          if (ends.isEmpty()) {
            caughtUp.countDown(); // no topic yet: nothing has been changed through the API
            ends = null;
            Thread.sleep(1000);
            continue;
          }
        }
        int read = 0;
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(POLL)) {
          apply(reader, record);
          read++;
        }
        if (read == 0 && caughtUp.getCount() > 0 && reachedEnds(consumer, ends)) {
          caughtUp.countDown();
        }
      }
    } catch (InterruptedException stopped) {
      Thread.currentThread().interrupt();
    } catch (Exception error) {
      failure = error;
      LOG.error("account settings follower of {} stopped", topic, error);
    }
  }

  private Map<TopicPartition, Long> assign(KafkaConsumer<byte[], byte[]> consumer) {
    List<PartitionInfo> infos = consumer.partitionsFor(topic);
    List<TopicPartition> partitions = new ArrayList<>();
    for (PartitionInfo info : infos == null ? Collections.<PartitionInfo>emptyList() : infos) {
      partitions.add(new TopicPartition(topic, info.partition()));
    }
    if (partitions.isEmpty()) {
      return Collections.emptyMap();
    }
    consumer.assign(partitions);
    consumer.seekToBeginning(partitions);
    return consumer.endOffsets(partitions);
  }

  /** Reported ends can lag the stored end (Tansu); an empty poll past them is the end. */
  private static boolean reachedEnds(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> ends) {
    for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
      if (consumer.position(end.getKey()) < end.getValue()) {
        return false;
      }
    }
    return true;
  }

  private void apply(SingleObjectReader reader, ConsumerRecord<byte[], byte[]> record) {
    if (record.value() == null) {
      return;
    }
    try {
      Map<String, Object> change = reader.read(record.value());
      String account = (String) change.get("account_id");
      long version = (Long) change.get("version");
      if (version <= versions.getOrDefault(account, -1L)) {
        return;
      }
      String entry = (String) change.get("after");
      settings.put(account, row(account, version, entry, new ObjectMapper().readTree(entry)));
      versions.put(account, version);
      applied.incrementAndGet();
    } catch (AvroBinary.MalformedException | IOException | RuntimeException error) {
      LOG.warn("{} offset {}: not an account settings record, skipped: {}", topic, record.offset(), error.getMessage());
    }
  }

  private RowData row(String account, long version, String text, JsonNode entry) {
    Map<String, JsonNode> rules = new HashMap<>();
    for (JsonNode rule : entry.path("tag_rules")) {
      rules.put(rule.path("dimension").asText(), rule);
    }
    Object[] fields = new Object[columns.size()];
    for (int i = 0; i < fields.length; i++) {
      String column = columns.get(i);
      if (column.equals("account_id")) {
        fields[i] = StringData.fromString(account);
      } else if (column.equals("version")) {
        fields[i] = version;
      } else if (column.equals("entry")) {
        fields[i] = StringData.fromString(text);
      } else if (column.equals("account_name")) {
        fields[i] = string(entry.get("name"));
      } else if (column.endsWith("_tag")) {
        JsonNode rule = rules.get(column.substring(0, column.length() - 4));
        fields[i] = rule == null ? null : string(rule.get("tag"));
      } else if (column.endsWith("_values")) {
        JsonNode rule = rules.get(column.substring(0, column.length() - 7));
        fields[i] = rule == null ? null : values(rule.path("values"));
      } else {
        fields[i] = string(entry.get(column));
      }
    }
    return GenericRowData.of(fields);
  }

  private static StringData string(JsonNode node) {
    return node == null || node.isNull() || node.asText().isEmpty() ? null : StringData.fromString(node.asText());
  }

  private static GenericMapData values(JsonNode mapping) {
    Map<StringData, StringData> map = new HashMap<>();
    mapping.fields().forEachRemaining(e -> map.put(StringData.fromString(e.getKey()), StringData.fromString(e.getValue().asText())));
    return new GenericMapData(map);
  }
}
