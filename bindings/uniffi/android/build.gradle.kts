// The ferrite Android library module: the UniFFI-generated Kotlin API
// (src/main/kotlin, from ../generate.sh) over libferrite_uniffi.so per ABI
// (src/main/jniLibs/<abi>/, from ../build-android.sh), loaded through JNA.
// Plugin versions come from the including build (or settings.gradle.kts here).
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.ferrite"
    compileSdk = 35

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
    }

    // Defaults, spelled out: where generate.sh and build-android.sh write.
    sourceSets["main"].java.srcDirs("src/main/kotlin")
    sourceSets["main"].jniLibs.srcDirs("src/main/jniLibs")

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_17)
    }
}

dependencies {
    // The @aar carries JNA's own libjnidispatch.so for every Android ABI.
    implementation("net.java.dev.jna:jna:5.14.0@aar")
}
