// Lets this module build on its own (`gradle assembleRelease`); an app that includes it
// (`include(":ferrite")` + `project(":ferrite").projectDir = file(".../bindings/uniffi/android")`)
// uses its own settings instead.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
    plugins {
        id("com.android.library") version "8.7.3"
        id("org.jetbrains.kotlin.android") version "2.1.0"
    }
}

dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "ferrite"
