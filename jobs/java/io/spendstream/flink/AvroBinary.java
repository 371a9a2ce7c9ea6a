package io.spendstream.flink;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;

/**
 * A reader of Avro binary bodies driven by a writer schema, written for Flink's hot path.
 *
 * <p>flink-avro is not available to spendstream, and decoding in a Python UDF capped the job at a
 * few thousand events per second, so the few Avro types our schemas use are read here: a schema
 * is compiled once into a tree of {@link Type}s, then each body is read with no reflection.
 * Records come back as maps from field name to value; enums as their symbol, with an index this
 * reader does not know mapped to the enum's default (the evolution rules of schemas/README.md).
 */
final class AvroBinary {
  private AvroBinary() {}

  /** Malformed bytes: the message says what was wrong and where. */
  static final class MalformedException extends Exception {
    MalformedException(String message) {
      super(message);
    }
  }

  /** A cursor over one body. */
  static final class Input {
    private final byte[] buf;
    private int pos;

    Input(byte[] buf, int offset) {
      this.buf = buf;
      this.pos = offset;
    }

    long readLong() throws MalformedException {
      long value = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        int b = readByte();
        value |= (long) (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
          return (value >>> 1) ^ -(value & 1);
        }
      }
      throw new MalformedException("varint longer than 10 bytes at byte " + pos);
    }

    int readByte() throws MalformedException {
      if (pos >= buf.length) {
        throw new MalformedException("body ends early at byte " + pos);
      }
      return buf[pos++];
    }

    byte[] readBytes(long length) throws MalformedException {
      if (length < 0 || length > buf.length - pos) {
        throw new MalformedException("length " + length + " at byte " + pos + " runs past the end");
      }
      byte[] out = new byte[(int) length];
      System.arraycopy(buf, pos, out, 0, out.length);
      pos += out.length;
      return out;
    }

    String readString() throws MalformedException {
      long length = readLong();
      if (length < 0 || length > buf.length - pos) {
        throw new MalformedException("string length " + length + " at byte " + pos + " runs past the end");
      }
      String value = new String(buf, pos, (int) length, StandardCharsets.UTF_8);
      pos += (int) length;
      return value;
    }
  }

  /** One compiled schema node. */
  interface Type {
    Object read(Input in) throws MalformedException;
  }

  /** Compiles a parsed Avro schema (JSON) into a reader. */
  static Type compile(JsonNode schema) {
    return compile(schema, new HashMap<>(), "");
  }

  private static Type compile(JsonNode schema, Map<String, Type> named, String namespace) {
    if (schema.isArray()) {
      List<Type> branches = new ArrayList<>();
      schema.forEach(branch -> branches.add(compile(branch, named, namespace)));
      return in -> {
        long index = in.readLong();
        if (index < 0 || index >= branches.size()) {
          throw new MalformedException("union branch " + index + " of " + branches.size());
        }
        return branches.get((int) index).read(in);
      };
    }
    String type = schema.isTextual() ? schema.asText() : schema.get("type").asText();
    if (schema.isObject() && schema.get("type").isContainerNode()) {
      return compile(schema.get("type"), named, namespace);
    }
    switch (type) {
      case "null":
        return in -> null;
      case "boolean":
        return in -> in.readByte() != 0;
      case "int":
        return in -> (int) in.readLong();
      case "long":
        return Input::readLong;
      case "float":
        return in -> Float.intBitsToFloat(littleEndian(in.readBytes(4)));
      case "double":
        return in -> Double.longBitsToDouble(littleEndianLong(in.readBytes(8)));
      case "bytes":
        return in -> in.readBytes(in.readLong());
      case "string":
        return Input::readString;
      default:
        break;
    }
    if (schema.isTextual()) {
      Type reference = named.get(type.contains(".") ? type : qualify(namespace, type));
      if (reference == null) {
        throw new IllegalArgumentException("unknown Avro type " + type);
      }
      return reference;
    }
    String space = schema.has("namespace") ? schema.get("namespace").asText() : namespace;
    Type compiled = compileComplex(type, schema, named, space);
    if (schema.has("name")) {
      String name = schema.get("name").asText();
      named.put(name.contains(".") ? name : qualify(space, name), compiled);
    }
    return compiled;
  }

  private static Type compileComplex(String type, JsonNode schema, Map<String, Type> named, String space) {
    switch (type) {
      case "record":
        return record(schema, named, space);
      case "enum":
        return enumeration(schema);
      case "fixed":
        int size = schema.get("size").asInt();
        return in -> in.readBytes(size);
      case "array":
        return blocks(compile(schema.get("items"), named, space), false);
      case "map":
        return blocks(compile(schema.get("values"), named, space), true);
      default:
        throw new IllegalArgumentException("unsupported Avro type " + type);
    }
  }

  private static Type record(JsonNode schema, Map<String, Type> named, String space) {
    List<String> names = new ArrayList<>();
    List<Type> types = new ArrayList<>();
    for (JsonNode field : schema.get("fields")) {
      names.add(field.get("name").asText());
      types.add(compile(field.get("type"), named, space));
    }
    return in -> {
      Map<String, Object> record = new HashMap<>(names.size() * 2);
      for (int i = 0; i < names.size(); i++) {
        record.put(names.get(i), types.get(i).read(in));
      }
      return record;
    };
  }

  private static Type enumeration(JsonNode schema) {
    List<String> symbols = new ArrayList<>();
    schema.get("symbols").forEach(symbol -> symbols.add(symbol.asText()));
    String fallback = schema.has("default") ? schema.get("default").asText() : null;
    return in -> {
      long index = in.readLong();
      if (index >= 0 && index < symbols.size()) {
        return symbols.get((int) index);
      }
      if (index >= 0 && fallback != null) {
        return fallback; // a symbol appended by a newer writer
      }
      throw new MalformedException("enum index " + index + " of " + symbols.size() + " symbols");
    };
  }

  /** Arrays and maps are written as blocks: a count (negative: followed by a byte size), then items. */
  private static Type blocks(Type item, boolean keyed) {
    return in -> {
      List<Object> list = keyed ? null : new ArrayList<>();
      Map<String, Object> map = keyed ? new LinkedHashMap<>() : null;
      for (long count = in.readLong(); count != 0; count = in.readLong()) {
        if (count < 0) {
          count = -count;
          in.readLong();
        }
        for (long i = 0; i < count; i++) {
          if (keyed) {
            map.put(in.readString(), item.read(in));
          } else {
            list.add(item.read(in));
          }
        }
      }
      return keyed ? map : list;
    };
  }

  private static String qualify(String namespace, String name) {
    return namespace.isEmpty() ? name : namespace + "." + name;
  }

  private static int littleEndian(byte[] b) {
    return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
  }

  private static long littleEndianLong(byte[] b) {
    return (littleEndian(b) & 0xffffffffL) | (long) littleEndian(new byte[] {b[4], b[5], b[6], b[7]}) << 32;
  }
}
